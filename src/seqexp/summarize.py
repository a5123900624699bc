"""One table for a whole sweep: what varied, how each job ended, sorted by the sweep's metric.

    python -m seqexp.summarize outputs/multirun/<date>/<time>      (or: seqexp-summary <dir>)

Reads every job folder of a Hydra multirun: ``.hydra/overrides.yaml`` (what the job was given),
``.hydra/config.yaml`` (the monitored metric's direction) and ``metrics.json`` (written by train,
``status: failed`` for a job that raised). Prints the table as Markdown and writes it next to the
sweep as ``summary.md`` and ``summary.csv``, and ``summary.png``: the sweep's metric against each swept key.
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

MISSING = "missing"  # a job folder without metrics.json: killed, crashed hard, or still running


@dataclass
class Job:
    name: str
    overrides: dict[str, str]
    record: dict[str, Any]  # metrics.json, or {} when the job left none
    mode: str | None  # monitor.mode of the job's config: min | max

    @property
    def status(self) -> str:
        return self.record.get("status", MISSING)

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


def varied_keys(jobs: Sequence[Job]) -> list[str]:
    """Override keys whose value differs between jobs (or that only some jobs have), in first-seen order."""
    keys = list(dict.fromkeys(key for job in jobs for key in job.overrides))
    return [key for key in keys if len({job.overrides.get(key) for job in jobs}) > 1]


def _order(job: Job) -> int:
    """Completed with an objective, completed without one, other statuses, failed, missing."""
    if job.status == "completed":
        return 0 if job.objective is not None else 1
    return {"failed": 3, MISSING: 4}.get(job.status, 2)


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


def summary_table(jobs: Sequence[Job]) -> tuple[list[str], list[list[Any]], str, str]:
    """Header, rows (sorted), monitored metric and direction."""
    monitor = next((job.record["monitor"] for job in jobs if job.record.get("monitor")), "objective")
    mode = next((job.mode for job in jobs if job.mode), "min")
    varied = varied_keys(jobs)
    metric_names = sorted({name for job in jobs for name in job.record.get("metrics", {})} - {monitor})
    header = ["job", *varied, "status", f"best {monitor}", monitor, *metric_names, "best_epoch", "epochs", "wall_time_s"]
    with_errors = any(job.record.get("error") for job in jobs)
    header += ["error"] if with_errors else []
    rows = []
    for job in sort_jobs(jobs, mode):
        metrics = job.record.get("metrics", {})
        row = [job.name, *(job.overrides.get(key) for key in varied), job.status, job.objective, metrics.get(monitor),
               *(metrics.get(name) for name in metric_names), job.record.get("best_epoch"), job.record.get("epochs"),
               job.record.get("wall_time_s")]
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
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: PLC0415

    best = sort_jobs(scored, mode)[0]
    log_keys = log_scaled_keys(sweep_dir, jobs)
    figure, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys) + 0.6, 3.4), squeeze=False, sharey=True)
    for axis, key in zip(axes[0], keys):
        values = [job.overrides.get(key, "") for job in scored]
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
        axis.scatter(positions, [job.objective for job in scored], color="tab:blue", label="job")
        at = scored.index(best)
        axis.scatter([positions[at]], [best.objective], marker="*", s=220, color="tab:red", zorder=3,
                     label=f"best: job {best.name}")
        axis.margins(x=0.12)
        axis.set_xlabel(key)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"best {monitor}")
    axes[0][0].legend(loc="best", fontsize="small")
    figure.suptitle(f"{'/'.join(sweep_dir.parts[-2:])}: best {monitor} ({mode}) of {len(scored)} jobs; best job {best.name} "
                    f"({monitor} = {best.objective:.4g})", fontsize="medium")
    figure.tight_layout()
    return figure


def plot_sweep(jobs: Sequence[Job], monitor: str, mode: str, sweep_dir: Path) -> Path | None:
    """Write ``sweep_figure`` to ``<sweep_dir>/summary.png``; None when there is nothing to draw."""
    figure = sweep_figure(jobs, monitor, mode, sweep_dir)
    if figure is None:
        return None
    import matplotlib.pyplot as plt  # noqa: PLC0415

    path = sweep_dir / "summary.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


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
    title = (f"{sweep_dir}: {len(jobs)} jobs ({', '.join(f'{n} {s}' for s, n in counts.items())}), "
             f"sorted by best {monitor} ({mode})\n\n")
    markdown = title + to_markdown(header, rows)
    (sweep_dir / "summary.md").write_text(markdown)
    plot_sweep(jobs, monitor, mode, sweep_dir)
    with open(sweep_dir / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if value is None else value for value in row] for row in rows])
    return markdown


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seqexp-summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", help="a multirun folder, e.g. outputs/multirun/2024-01-31/12-00-00")
    sweep_dir = Path(parser.parse_args(argv).sweep_dir)
    print(summarize(sweep_dir), end="")
    written = [sweep_dir / name for name in ("summary.md", "summary.csv", "summary.png") if (sweep_dir / name).is_file()]
    print(f"Wrote {', '.join(map(str, written))}", file=sys.stderr)  # stdout: the table only


if __name__ == "__main__":
    main()
