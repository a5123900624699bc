"""One table for a whole sweep: what varied, how each job ended, sorted by the sweep's metric.

    python -m seqexp.summarize outputs/multirun/<date>/<time>      (or: seqexp-summary <dir>)

Reads every job folder of a Hydra multirun: ``.hydra/overrides.yaml`` (what the job was given),
``.hydra/config.yaml`` (the monitored metric's direction) and ``metrics.json`` (written by train,
``status: failed`` for a job that raised). Prints the table as Markdown and writes it next to the
sweep as ``summary.md`` and ``summary.csv``, and ``summary.png``: the sweep's metric against each swept key.
An Optuna search that kept its study in a storage (``hydra.sweeper.storage``) adds the study's own table: every
trial of it (this sweep's, those of earlier commands it continued and of other processes that shared it), with its state.

Jobs whose overrides differ only in ``REPLICATE_KEYS`` (seed, backtest fold) are replicates of one setting. When a
setting has more than one completed job, ``summary.md`` also gets a table of settings (n, failed, and per final
metric mean ± sample sd and the 95 % Student t interval), ``summary_groups.csv`` holds it, and ``summary.png``
draws each setting's mean with ± sd error bars instead.

A grid of Hydra's basic sweeper that stopped early (SIGTERM ends the sweep at the job it interrupts) leaves folders only
for the jobs that started; the title counts the others as never started, from the grid that ``multirun.yaml`` plans.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException
from omegaconf import OmegaConf

from seqexp.grid import grid_jobs
from seqexp.replicates import Estimate, describe

UNFINISHED = "unfinished"  # a job folder without metrics.json: killed, crashed hard, or still running


@dataclass
class Job:
    name: str
    overrides: dict[str, str]
    record: dict[str, Any]  # metrics.json, or {} when the job left none
    mode: str | None  # monitor.mode of the job's config: min | max

    @property
    def status(self) -> str:
        return self.record.get("status", UNFINISHED)

    @property
    def objective(self) -> float | None:
        value = self.record.get("objective")
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _overrides(path: Path) -> dict[str, str]:
    """``key=value`` overrides as Hydra recorded them (``+key``/``++key`` count as ``key``)."""
    entries = OmegaConf.load(path) if path.is_file() else []
    return dict((item.lstrip("+~").partition("=")[::2]) for item in entries)


def load_job(folder: Path) -> Job:
    metrics_file, config_file = folder / "metrics.json", folder / ".hydra" / "config.yaml"
    record = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    mode = OmegaConf.select(OmegaConf.load(config_file), "monitor.mode") if config_file.is_file() else None
    return Job(folder.name, _overrides(folder / ".hydra" / "overrides.yaml"), record, mode)


def load_jobs(sweep_dir: Path) -> list[Job]:
    """Every job folder (Hydra names them 0, 1, ...), in job order."""
    folders = [p for p in sweep_dir.iterdir() if (p / ".hydra" / "overrides.yaml").is_file() or (p / "metrics.json").is_file()]
    return [load_job(p) for p in sorted(folders, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))]


def planned_jobs(sweep_dir: Path) -> int | None:
    """How many jobs the sweep's grid plans (``multirun.yaml``, as Hydra's basic sweeper expands it), or None
    (another sweeper, or a grid that cannot be read: :func:`seqexp.grid.grid_jobs`)."""
    config_file = sweep_dir / "multirun.yaml"
    jobs = grid_jobs(OmegaConf.load(config_file)) if config_file.is_file() else None
    return None if jobs is None else len(jobs)


def _count(number: int, noun: str) -> str:
    """``1 job``, ``2 jobs``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def varied_keys(jobs: Sequence[Job]) -> list[str]:
    """Override keys whose value differs between jobs (or that only some jobs have), in first-seen order."""
    keys = list(dict.fromkeys(key for job in jobs for key in job.overrides))
    return [key for key in keys if len({job.overrides.get(key) for job in jobs}) > 1]


def _order(job: Job) -> int:
    """Completed with an objective, completed without one, other statuses, failed, unfinished."""
    if job.status == "completed":
        return 0 if job.objective is not None else 1
    return {"failed": 3, UNFINISHED: 4}.get(job.status, 2)


def sort_jobs(jobs: Sequence[Job], mode: str) -> list[Job]:
    """Best objective first (``mode`` min or max), then the jobs that have none, in job order."""
    sign = -1.0 if mode == "max" else 1.0
    return sorted(jobs, key=lambda job: (_order(job), sign * job.objective if job.objective is not None else 0.0))


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def other_metrics(jobs: Sequence[Job], monitor: str) -> list[str]:
    """The final metrics of ``metrics.json`` other than ``monitor``: the model's, then the baselines'
    (``baseline/<name>/<split>/<metric>``, logged by every run beside the model's), each part sorted by name."""
    names = {name for job in jobs for name in job.record.get("metrics", {})} - {monitor}
    return sorted(names, key=lambda name: (name.startswith("baseline/"), name))


def summary_table(jobs: Sequence[Job]) -> tuple[list[str], list[list[Any]], str, str]:
    """Header, rows (sorted), monitored metric and direction."""
    monitor = next((job.record["monitor"] for job in jobs if job.record.get("monitor")), "objective")
    mode = next((job.mode for job in jobs if job.mode), "min")
    varied = varied_keys(jobs)
    metric_names = other_metrics(jobs, monitor)
    header = ["job", *varied, "status", f"best {monitor}", monitor, *metric_names, "best_epoch", "epochs", "wall_time_s"]
    with_errors = any(job.record.get("error") for job in jobs)
    header += ["error"] if with_errors else []
    rows = []
    for job in sort_jobs(jobs, mode):
        metrics = job.record.get("metrics", {})
        row = [
            job.name,
            *(job.overrides.get(key) for key in varied),
            job.status,
            job.objective,
            metrics.get(monitor),
            *(metrics.get(name) for name in metric_names),
            job.record.get("best_epoch"),
            job.record.get("epochs"),
            job.record.get("wall_time_s"),
        ]
        rows.append(row + ([job.record.get("error")] if with_errors else []))
    return header, rows, monitor, mode


def to_markdown(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[" ".join(_format(value).split()).replace("|", "\\|") for value in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(text.ljust(width) for text, width in zip(line, widths)) + " |" for line in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines) + "\n"


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def log_scaled_keys(sweep_dir: Path, jobs: Sequence[Job]) -> set[str]:
    """Swept keys to draw on a log axis: those the search sampled on a log scale (Optuna's ``tag(log, ...)``
    in ``hydra.sweeper.params`` of the sweep's ``multirun.yaml``, read with Hydra's own override parser),
    and numeric keys whose values form a geometric grid (0.001, 0.01, 0.1) or span 100x and more."""
    config_file = sweep_dir / "multirun.yaml"
    params = OmegaConf.select(OmegaConf.load(config_file), "hydra.sweeper.params") if config_file.is_file() else None
    parser = OverridesParser.create()
    keys = set()
    for key, spec in (OmegaConf.to_container(params) if params else {}).items():
        try:
            sweep = parser.parse_override(f"{key}={spec}").value()
        except OverrideParseException:
            continue
        if "log" in getattr(sweep, "tags", ()):
            keys.add(key)
    for key in varied_keys(jobs):
        numbers = sorted({number for job in jobs if (number := _number(job.overrides.get(key, ""))) is not None})
        if len(numbers) < 2 or numbers[0] <= 0:
            continue
        ratios = [high / low for low, high in zip(numbers, numbers[1:])]
        geometric = len(numbers) >= 3 and min(ratios) >= 1.5 and max(ratios) <= min(ratios) * 1.01
        if geometric or numbers[-1] / numbers[0] >= 100:
            keys.add(key)
    return keys


def _key_axis(axis: Any, key: str, values: Sequence[str], log_keys: set[str]) -> list[float]:
    """Set up ``axis`` for the swept ``key`` and return the x positions of ``values``: numbers on a numeric axis
    (log-scaled as ``log_keys`` says; integers ticked at the values tried), other values as categories."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: PLC0415

    numbers = [_number(value) for value in values]
    if all(number is not None for number in numbers):
        positions = numbers
        if key in log_keys:  # ticks at 1 and 3 of each decade, as plain numbers (0.001, 0.003, 0.01)
            axis.set_xscale("log")
            axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 3.0)))
            axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            axis.xaxis.set_minor_formatter(NullFormatter())
        if all(number.is_integer() and "." not in value for number, value in zip(numbers, values)):  # type: ignore[union-attr]
            tried = sorted(set(numbers))  # type: ignore[type-var]
            if len(tried) <= 12:
                axis.set_xticks(tried, [str(int(number)) for number in tried])
                axis.xaxis.set_minor_formatter(NullFormatter())
            else:
                axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        categories = list(dict.fromkeys(values))
        positions = [categories.index(value) for value in values]
        axis.set_xticks(range(len(categories)), categories, rotation=30)
    axis.margins(x=0.12)
    axis.set_xlabel(key)
    axis.grid(alpha=0.3)
    return positions  # type: ignore[return-value]


def sweep_figure(jobs: Sequence[Job], monitor: str, mode: str, sweep_dir: Path) -> Any:
    """The figure of ``summary.png``: one panel per swept key, each job's best ``monitor`` against that key's value (jobs
    without an objective are left out), the best job starred. Numbers on a numeric axis (log-scaled as
    ``log_scaled_keys`` says; integers ticked at the values tried), other values as categories. None
    when nothing varied or no job has an objective."""
    scored = [job for job in jobs if job.objective is not None]
    keys = varied_keys(jobs)
    if not scored or not keys:
        return None
    import matplotlib  # noqa: PLC0415  (only a summary with something to draw pays for matplotlib)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    best = sort_jobs(scored, mode)[0]
    log_keys = log_scaled_keys(sweep_dir, jobs)
    figure, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys) + 0.6, 3.4), squeeze=False, sharey=True)
    for axis, key in zip(axes[0], keys):
        positions = _key_axis(axis, key, [job.overrides.get(key, "") for job in scored], log_keys)
        axis.scatter(positions, [job.objective for job in scored], color="tab:blue", label="job")
        at = scored.index(best)
        axis.scatter([positions[at]], [best.objective], marker="*", s=220, color="tab:red", zorder=3, label=f"best: job {best.name}")
    axes[0][0].set_ylabel(f"best {monitor}")
    axes[0][0].legend(loc="best", fontsize="small")
    figure.suptitle(
        f"{'/'.join(sweep_dir.parts[-2:])}: best {monitor} ({mode}) of {_count(len(scored), 'job')}; best job {best.name} ({monitor} = {best.objective:.4g})",
        fontsize="medium",
    )
    figure.tight_layout()
    return figure


def plot_sweep(jobs: Sequence[Job], monitor: str, mode: str, sweep_dir: Path) -> Path | None:
    """Write ``<sweep_dir>/summary.png``: ``replicates_figure`` when some setting has replicates, else ``sweep_figure``;
    None when there is nothing to draw."""
    groups = group_jobs(jobs)
    figure = (
        replicates_figure(summarize_groups(groups, monitor, mode), jobs, monitor, mode, sweep_dir)
        if has_replicates(groups)
        else sweep_figure(jobs, monitor, mode, sweep_dir)
    )
    if figure is None:
        return None
    import matplotlib.pyplot as plt  # noqa: PLC0415

    path = sweep_dir / "summary.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


# Replicates: jobs that differ only in the keys below are runs of one setting; summarize describes each group.
REPLICATE_KEYS = ("seed", "data.backtest.fold")


@dataclass
class Group:
    """The jobs of one setting: their overrides differ only in ``REPLICATE_KEYS``."""

    setting: dict[str, str]  # the swept keys other than the replicate keys, with this group's values
    jobs: list[Job]

    @property
    def label(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.setting.items()) or "all jobs"

    @property
    def completed(self) -> list[Job]:
        return [job for job in self.jobs if job.status == "completed"]


def group_jobs(jobs: Sequence[Job]) -> list[Group]:
    """Jobs grouped by the swept keys that are not ``REPLICATE_KEYS``, groups in order of their first job."""
    keys = [key for key in varied_keys(jobs) if key not in REPLICATE_KEYS]
    groups: dict[tuple[str | None, ...], Group] = {}
    for job in jobs:
        values = tuple(job.overrides.get(key) for key in keys)
        groups.setdefault(values, Group({key: value or "" for key, value in zip(keys, values)}, [])).jobs.append(job)
    return list(groups.values())


def has_replicates(groups: Sequence[Group]) -> bool:
    """Whether some group has more than one completed job (then summarize adds the grouped table and figure)."""
    return any(len(group.completed) > 1 for group in groups)


def metric_columns(jobs: Sequence[Job], monitor: str) -> list[str]:
    """What the grouped table describes: ``best <monitor>`` (each job's objective), ``monitor``, then every other
    final metric of ``metrics.json``, as the job table orders them."""
    return [f"best {monitor}", monitor, *other_metrics(jobs, monitor)]


def _value(job: Job, column: str, monitor: str) -> float | None:
    """A job's finite value of ``column`` (a ``metric_columns`` name), else None."""
    value = job.objective if column == f"best {monitor}" else job.record.get("metrics", {}).get(column)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclass
class GroupSummary:
    group: Group
    estimates: dict[str, Estimate]  # per metric column, over the group's completed jobs that have a value
    nulls: dict[str, list[Job]]  # per metric column: completed jobs that report it as null (or lack it while others have it)

    @property
    def failed(self) -> int:
        return sum(job.status == "failed" for job in self.group.jobs)

    @property
    def unfinished(self) -> int:
        """Jobs neither completed nor failed: no ``metrics.json`` (killed, or still running) or another status."""
        return len(self.group.jobs) - len(self.group.completed) - self.failed


def summarize_groups(groups: Sequence[Group], monitor: str, mode: str) -> list[GroupSummary]:
    """Each group's ``Estimate`` of every metric column, best mean ``best <monitor>`` first (``mode``), groups
    without one last."""
    columns = metric_columns([job for group in groups for job in group.jobs], monitor)
    summaries = []
    for group in groups:
        estimates, nulls = {}, {}
        for column in columns:
            values = {job.name: _value(job, column, monitor) for job in group.completed}
            reported = column == f"best {monitor}" or any(column in job.record.get("metrics", {}) for job in group.completed)
            estimates[column] = describe([value for value in values.values() if value is not None])
            nulls[column] = [job for job in group.completed if values[job.name] is None] if reported else []
        summaries.append(GroupSummary(group, estimates, nulls))
    sign = -1.0 if mode == "max" else 1.0
    objective = f"best {monitor}"
    return sorted(summaries, key=lambda s: (s.estimates[objective].mean is None, sign * (s.estimates[objective].mean or 0.0)))


def groups_table(summaries: Sequence[GroupSummary], monitor: str) -> tuple[list[str], list[list[Any]]]:
    """The CSV table: the group's setting, ``n`` (completed jobs), ``failed``, ``unfinished`` (only when some job has
    no ``metrics.json``), ``jobs``, then per metric column ``_mean``, ``_sd``, ``_ci95_low``, ``_ci95_high`` and
    ``_n`` (only for a metric some completed job reports as null)."""
    keys = list(summaries[0].group.setting) if summaries else []
    columns = list(summaries[0].estimates) if summaries else []
    with_unfinished = any(s.unfinished for s in summaries)
    with_n = {column for column in columns if any(s.nulls[column] for s in summaries)}
    header = [*keys, "n", "failed", *(["unfinished"] if with_unfinished else []), "jobs"]
    for column in columns:
        header += [f"{column}_{part}" for part in ("mean", "sd", "ci95_low", "ci95_high")]
        header += [f"{column}_n"] if column in with_n else []
    rows = []
    for s in summaries:
        row = [
            *s.group.setting.values(),
            len(s.group.completed),
            s.failed,
            *([s.unfinished] if with_unfinished else []),
            " ".join(job.name for job in s.group.jobs),
        ]
        for column in columns:
            estimate = s.estimates[column]
            row += [estimate.mean, estimate.sd, estimate.low, estimate.high] + ([estimate.n] if column in with_n else [])
        rows.append(row)
    return header, rows


def _cell(estimate: Estimate, n: int) -> str:
    """``mean ± sd [low, high]`` for Markdown, with ``(n=k)`` when fewer than the group's ``n`` jobs had a value."""
    if estimate.mean is None:
        return ""
    text = f"{estimate.mean:.4g}"
    if estimate.sd is not None:
        text += f" ± {estimate.sd:.2g} [{estimate.low:.3g}, {estimate.high:.3g}]"
    return text + (f" (n={estimate.n})" if estimate.n < n else "")


def _replicated(jobs: Sequence[Job]) -> str:
    """What the replicates of a group differ in, for titles."""
    keys = [key for key in REPLICATE_KEYS if key in varied_keys(jobs)]
    return ", ".join(keys) if keys else "nothing (same overrides)"


def groups_markdown(summaries: Sequence[GroupSummary], jobs: Sequence[Job], monitor: str, mode: str) -> str:
    """The grouped table for ``summary.md``, a line that says what it holds, and a note per null metric."""
    keys = list(summaries[0].group.setting)
    columns = list(summaries[0].estimates)
    with_unfinished = any(s.unfinished for s in summaries)
    rows = [
        [
            *s.group.setting.values(),
            len(s.group.completed),
            s.failed,
            *([s.unfinished] if with_unfinished else []),
            " ".join(job.name for job in s.group.jobs),
            *(_cell(s.estimates[c], len(s.group.completed)) for c in columns),
        ]
        for s in summaries
    ]
    table = to_markdown([*keys, "n", "failed", *(["unfinished"] if with_unfinished else []), "jobs", *columns], rows)
    title = (
        f"{_count(len(summaries), 'group')} of jobs that differ only in {_replicated(jobs)}, sorted by mean best {monitor} "
        f"({mode}). A cell is mean ± sample sd [95 % Student t interval of the mean] over the group's n completed "
        f"jobs; failed jobs are counted apart, not in n.\n\n"
    )
    notes = [
        f"- {column}: null in job{'s' if len(nulls) > 1 else ''} {', '.join(job.name for job in nulls)} of "
        f"{s.group.label}; described over the {s.estimates[column].n} other{'s' if s.estimates[column].n != 1 else ''}"
        for s in summaries
        for column, nulls in s.nulls.items()
        if nulls
    ]
    return title + table + ("\n" + "\n".join(notes) + "\n" if notes else "")


def replicates_figure(summaries: Sequence[GroupSummary], jobs: Sequence[Job], monitor: str, mode: str, sweep_dir: Path) -> Any:
    """``summary.png`` of a sweep with replicates: one panel per swept key that is not a replicate key (one panel
    when only seeds or folds varied), each group's mean best ``monitor`` with ± sd error bars, its jobs as faint
    dots, the best group starred (when there are several). Axes as ``sweep_figure`` draws them. None when no group
    has an objective."""
    objective = f"best {monitor}"
    scored = [s for s in summaries if s.estimates[objective].mean is not None]
    if not scored:
        return None
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    best = scored[0]  # summarize_groups sorts the best mean first
    keys = list(best.group.setting)
    log_keys = log_scaled_keys(sweep_dir, jobs)
    panels = keys or [_replicated(jobs)]
    width = max(3.2 * len(panels) + 0.6, 6.0)  # room for the two title lines
    figure, axes = plt.subplots(1, len(panels), figsize=(width, 3.8), squeeze=False, sharey=True)
    for axis, key in zip(axes[0], panels):
        if keys:
            positions = _key_axis(axis, key, [s.group.setting[key] for s in scored], log_keys)
        else:  # only replicate keys varied: one group
            positions = [0.0]
            axis.set_xticks([0.0], [best.group.label])
            axis.set_xlabel(key)
            axis.grid(alpha=0.3)
        dots = [(x, job.objective) for x, s in zip(positions, scored) for job in s.group.completed if job.objective is not None]
        axis.scatter(*zip(*dots), color="tab:blue", alpha=0.3, s=14, label="job")
        estimates = [s.estimates[objective] for s in scored]
        axis.errorbar(positions, [e.mean for e in estimates], yerr=[e.sd or 0.0 for e in estimates], fmt="o", color="tab:blue", capsize=4, label="mean ± sd")
        if len(scored) > 1:
            axis.scatter([positions[0]], [best.estimates[objective].mean], marker="*", s=220, color="tab:red", zorder=3, label=f"best: {best.group.label}")
    axes[0][0].set_ylabel(f"best {monitor}")
    axes[0][0].legend(loc="best", fontsize="small")
    top = best.estimates[objective]
    spread = f" ± {top.sd:.2g}" if top.sd is not None else ""
    groups = f"{len(scored)} groups\nbest: " if len(scored) > 1 else "one group\n"
    figure.suptitle(
        f"{'/'.join(sweep_dir.parts[-2:])}: mean best {monitor} ({mode}) ± sd over {_replicated(jobs)}, "
        f"{groups}{best.group.label} ({top.mean:.4g}{spread}, n={top.n})",
        fontsize="medium",
    )
    figure.tight_layout()
    return figure


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if value is None else value for value in row] for row in rows])


STUDY_STATE_ORDER = {"complete": 0, "pruned": 1, "running": 2, "waiting": 2, "fail": 3}


def study_table(sweep_dir: Path) -> str:
    """The trials of the sweep's Optuna study, read from its storage (the sweep's ``optimization_results.yaml``
    names it): number, state, value (a pruned trial's: at its last validation), validations reported, parameters;
    completed trials best first. Empty when the study was kept in memory."""
    results_file = sweep_dir / "optimization_results.yaml"
    results = OmegaConf.load(results_file) if results_file.is_file() else {}
    url, name = results.get("storage"), results.get("study_name")
    if not url or not name:
        return ""
    try:
        from seqexp.search import study_trials  # noqa: PLC0415  (Optuna: the sweep extra)

        direction, trials = study_trials(url, name)
    except Exception as error:  # noqa: BLE001  (the table of jobs stands without it)
        return f"\nOptuna study {name} in {url}: not read ({type(error).__name__}: {error})\n"
    keys = list(dict.fromkeys(key for trial in trials for key in trial.params))
    sign = -1.0 if direction == "maximize" else 1.0
    state = lambda trial: trial.state.name.lower()  # noqa: E731
    ranked = sorted(
        trials,
        key=lambda trial: (STUDY_STATE_ORDER.get(state(trial), 2), trial.number if state(trial) != "complete" or trial.value is None else sign * trial.value),
    )
    rows = [[trial.number, state(trial), trial.value, len(trial.intermediate_values), *(trial.params.get(key) for key in keys)] for trial in ranked]
    counts = {label: sum(state(trial) == label for trial in trials) for label in dict.fromkeys(state(trial) for trial in ranked)}
    return (
        f"\nOptuna study {name} in {url}: {len(trials)} trials ({', '.join(f'{n} {s}' for s, n in counts.items())}), "
        f"{direction}; completed trials best first\n\n" + to_markdown(["trial", "state", "value", "validations", *keys], rows)
    )


def summarize(sweep_dir: str | Path) -> str:
    """Write summary.md and summary.csv into ``sweep_dir``; return the Markdown table with a title line."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise SystemExit(f"{sweep_dir}: no such folder (pass outputs/multirun/<date>/<time>)")
    jobs = load_jobs(sweep_dir)
    if not jobs:
        raise SystemExit(f"{sweep_dir}: no job folders with .hydra/overrides.yaml or metrics.json (is this a multirun folder?)")
    header, rows, monitor, mode = summary_table(jobs)
    counts = {status: sum(job.status == status for job in jobs) for status in dict.fromkeys(job.status for job in jobs)}
    never_started = max((planned_jobs(sweep_dir) or 0) - len(jobs), 0)  # a plan smaller than the folders is not trusted
    if never_started:
        counts["never started"] = never_started
    tally = ", ".join(f"{n} {s}" for s, n in counts.items())
    size = f"{len(jobs) + never_started} jobs planned: {tally}" if never_started else f"{_count(len(jobs), 'job')} ({tally})"
    title = f"{sweep_dir}: {size}, sorted by best {monitor} ({mode})\n\n"
    markdown = title + to_markdown(header, rows)
    _write_csv(sweep_dir / "summary.csv", header, rows)
    groups, groups_csv = group_jobs(jobs), sweep_dir / "summary_groups.csv"
    groups_csv.unlink(missing_ok=True)  # from an earlier summary of this folder
    if has_replicates(groups):
        summaries = summarize_groups(groups, monitor, mode)
        markdown += "\n" + groups_markdown(summaries, jobs, monitor, mode)
        _write_csv(groups_csv, *groups_table(summaries, monitor))
    markdown += study_table(sweep_dir)  # a search with a storage: every trial of its study
    (sweep_dir / "summary.md").write_text(markdown)
    plot_sweep(jobs, monitor, mode, sweep_dir)
    return markdown


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seqexp-summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", help="a multirun folder, e.g. outputs/multirun/2024-01-31/12-00-00")
    sweep_dir = Path(parser.parse_args(argv).sweep_dir)
    print(summarize(sweep_dir), end="")
    names = ("summary.md", "summary.csv", "summary_groups.csv", "summary.png")
    written = [sweep_dir / name for name in names if (sweep_dir / name).is_file()]
    print(f"Wrote {', '.join(map(str, written))}", file=sys.stderr)  # stdout: the table only


if __name__ == "__main__":
    main()
