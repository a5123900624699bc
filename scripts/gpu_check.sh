#!/usr/bin/env bash
# GPU figures (issue 17), as one prepared run of under 8 minutes on one CUDA GPU. From the repository root,
# after the README's set-up without its CPU-torch part:
#     bash scripts/gpu_check.sh [out_dir]
# Records: benchmark JSON fp32 vs bf16-mixed (realistic case and a 4x512 LSTM, window 200, batch 256);
# the default run on trainer=gpu; trainer=ddp with one device and the default callbacks; the text preset.
set -euo pipefail
out=${1:-gpu_check}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.csv"
for precision in 32-true bf16-mixed; do
    python scripts/benchmark.py --device cuda --precision "$precision" --cases realistic,large --repeats 3 \
        --startup-repeats 0 --out "$out/benchmark_$precision.json" > "$out/benchmark_$precision.log" 2>&1
done
run() {  # name, overrides...: one training run in $out/<name>, its console in $out/<name>.log
    local name=$1 started=$SECONDS; shift
    python -m seqexp.train "$@" hydra.run.dir="$out/$name" > "$out/$name.log" 2>&1
    echo "$((SECONDS - started)) s" > "$out/$name.time"
}
run gpu_default trainer=gpu
run ddp_one_device trainer=ddp trainer.devices=1 trainer.max_epochs=5
run text_bilstm experiment=text_bilstm trainer=gpu
python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
fp32, bf16 = (json.loads((out / f"benchmark_{p}.json").read_text())["cases"] for p in ("32-true", "bf16-mixed"))
for case in fp32:
    a, b = fp32[case]["seqexp"]["steps_per_s"], bf16[case]["seqexp"]["steps_per_s"]
    print(f"{case}: fp32 {a} steps/s, bf16-mixed {b} steps/s, bf16/fp32 {b / a:.2f}; "
          f"seqexp/hand-written fp32 {fp32[case]['ratio']}, bf16 {bf16[case]['ratio']}")
for name in ("gpu_default", "ddp_one_device", "text_bilstm"):
    record = json.loads((out / name / "metrics.json").read_text())
    print(f"{name}: {record['status']}, {(out / f'{name}.time').read_text().strip()}, "
          + ", ".join(f"{k}={v:.4g}" for k, v in sorted(record["metrics"].items()) if k.startswith("test/") and v is not None))
PY
