"""Print the README's lesson table from the measured notebook reports.

    python -m tools.lesson_table docs/measurements/notebooks-fast.json docs/measurements/notebooks-full.json
    python -m tools.lesson_table --merge docs/measurements/notebooks-full.json build/notebooks-bench.json

The reports are written by ``make test`` (fast mode) and ``make bench-notebooks`` (full
mode); nothing in the table is typed in by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0].source.splitlines()[0]
    return first.lstrip("# ").split("·", 1)[-1].strip()


def _by_name(report: Path | None) -> dict[str, dict]:
    if report is None or not report.exists():
        return {}
    return {r["notebook"]: r for r in json.loads(report.read_text())["notebooks"]}


def table(fast: Path | None, full: Path | None, notebooks: Path = Path("notebooks")) -> str:
    fast_runs, full_runs = _by_name(fast), _by_name(full)
    rows = ["| # | lesson | fast mode | full mode | peak memory (full) |", "|---|---|---|---|---|"]
    for path in sorted(notebooks.glob("*.ipynb")):
        f, g = fast_runs.get(path.name), full_runs.get(path.name)
        fast_s = f"{f['seconds']:.0f} s" if f else "not measured"
        full_s = f"{g['seconds']:.0f} s" if g else "not measured"
        mem = f"{g['peak_rss_mb']:.0f} MB" if g else "not measured"
        rows.append(f"| {path.name[:2]} | [{_title(path)}](notebooks/{path.name}) | {fast_s} | {full_s} | {mem} |")
    return "\n".join(rows)


def merge(into: Path, *reports: Path) -> None:
    """Put the runs of ``reports`` into the report ``into`` (a later run of a notebook replaces an earlier one)."""
    runs = _by_name(into)
    for report in reports:
        runs.update(_by_name(report))
    mode = json.loads(into.read_text())["mode"] if into.exists() else "full"
    into.write_text(json.dumps(dict(mode=mode, notebooks=[runs[k] for k in sorted(runs)]), indent=2) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--merge"]:  # python -m tools.lesson_table --merge INTO REPORT...
        merge(Path(sys.argv[2]), *map(Path, sys.argv[3:]))
        raise SystemExit(0)
    args = [Path(a) for a in sys.argv[1:3]] + [None, None]
    print(table(args[0], args[1]))
