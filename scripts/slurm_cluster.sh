#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try and test `hydra/launcher=slurm` without a real cluster.
#   scripts/slurm_cluster.sh install        # as root: Debian/Ubuntu's munge, slurmctld, slurmd, slurm-client (about 25 s)
#   scripts/slurm_cluster.sh start [DIR]    # as root: munged, slurmctld, slurmd; returns once `sinfo` shows the node idle
#   export SLURM_CONF=DIR/slurm.conf        # then sbatch/squeue/scontrol (and the slurm launcher) use it
#   scripts/slurm_cluster.sh stop [DIR]
# DIR (default /tmp/seqexp-slurm) holds the config, the munge key and socket, the daemons' state and logs.
# `start` and `stop` are idempotent: a cluster already running from DIR is left as it is.
# The node is this machine (all its CPUs, partition `debug`); no accounting (sacct has nothing to read:
# squeue and the jobs' own files say what happened), no cgroups (proctrack/linuxproc, task/none).
set -euo pipefail

packages=(munge slurmctld slurmd slurm-client)
action=${1:-}
dir=$(realpath -m "${2:-/tmp/seqexp-slurm}")
conf=$dir/slurm.conf
export SLURM_CONF=$conf

pid_alive() {  # pid_alive FILE: the process named in FILE is running
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() {  # the node's state as sinfo prints it (idle, mix, alloc, down*, ...), empty while slurmctld does not answer
    timeout 5 sinfo --noheader --format=%t 2>/dev/null | head -n 1 || true
}

write_config() {
    local node cpus memory
    node=$(hostname -s)
    cpus=$(nproc)
    memory=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)  # MB the jobs may ask for
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    chmod 700 "$dir"
    cat > "$conf" <<EOF
# Written by scripts/slurm_cluster.sh: a one-node cluster on $node.
ClusterName=seqexp
SlurmctldHost=$node(127.0.0.1)
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued job may start again 10 s after it stopped (default 120)
AuthInfo=socket=$dir/munge.socket,cred_expire=10
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# a job asking for more than the node has is refused when submitted, not left pending forever
EnforcePartLimits=ALL
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
EOF
}

start() {
    [ "$(id -u)" = 0 ] || { echo "Error: start needs root (slurmd runs jobs as their users)" >&2; exit 1; }
    for daemon in munged slurmctld slurmd sinfo; do
        command -v "$daemon" >/dev/null || { echo "Error: $daemon not found; run: $0 install" >&2; exit 1; }
    done
    if pid_alive "$dir/slurmctld.pid" && pid_alive "$dir/slurmd.pid" && [ -n "$(node_state)" ]; then
        echo "SLURM cluster already running: export SLURM_CONF=$conf"
        return
    fi
    write_config
    if ! pid_alive "$dir/munged.pid"; then
        if [ ! -s "$dir/munge.key" ]; then  # mungekey came with munge 0.5.14; older ones take any 1 KiB secret
            mungekey --create --keyfile="$dir/munge.key" 2>/dev/null || head -c 1024 /dev/urandom > "$dir/munge.key"
            chmod 600 "$dir/munge.key"
        fi
        munged --force --socket="$dir/munge.socket" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
            --log-file="$dir/log/munged.log" --seed-file="$dir/munged.seed"
    fi
    pid_alive "$dir/slurmctld.pid" || slurmctld -c  # -c: a fresh queue; jobs of a cluster stopped earlier in DIR are not revived
    pid_alive "$dir/slurmd.pid" || slurmd
    for _ in $(seq 60); do
        case $(node_state) in
            idle) echo "SLURM cluster up (partition debug, node $(hostname -s)): export SLURM_CONF=$conf"; return ;;
            down*|drain*) scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.5
        pid_alive "$dir/slurmctld.pid" && pid_alive "$dir/slurmd.pid" || break  # one died: its log says why (a port in use?)
    done
    echo "Error: the SLURM node in $dir did not become idle; the daemons' logs end:" >&2
    tail -n 5 "$dir"/log/*.log >&2
    exit 1
}

stop() {
    local pids=()
    for daemon in slurmd slurmctld munged; do
        pid_alive "$dir/$daemon.pid" && pids+=("$(cat "$dir/$daemon.pid")")
    done
    [ ${#pids[@]} = 0 ] || kill "${pids[@]}"
    for pid in "${pids[@]}"; do  # each takes a second or two to save its state and exit
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    echo "SLURM cluster in $dir stopped"
}

case $action in
    install)
        [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || { echo "Error: install needs root and apt-get" >&2; exit 1; }
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
        ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install | start [DIR] | stop [DIR]" >&2; exit 2 ;;
esac
