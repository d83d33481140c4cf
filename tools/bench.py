"""`make bench`: run every benchmarks/bench_*.py in full mode and print one results table.

Each benchmark script trains its lesson's models with the lesson's full-mode settings and
prints one JSON object per line: dataset, model, metric, ours, reference, seconds, peak_mb.
The table goes to stdout (paste it into the README) and to build/bench.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

COLUMNS = ("dataset", "model", "metric", "ours", "reference", "seconds", "peak_mb")


def run_benchmarks(folder: Path = Path("benchmarks"), failed: list[str] | None = None) -> list[dict]:
    """Rows of every benchmark script; a failing script is reported and named in ``failed``."""
    rows: list[dict] = []
    env = {k: v for k, v in os.environ.items() if k != "SLM_FAST"}  # full mode
    for script in sorted(folder.glob("bench_*.py")):
        print(f"running {script} ...", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
        if done.returncode != 0:  # keep going: the other lessons' rows are still worth having
            print(f"{script} failed ({done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
            if failed is not None:
                failed.append(str(script))
            continue
        for line in done.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                row = json.loads(line)
                missing = set(COLUMNS) - set(row)
                if missing:
                    raise SystemExit(f"{script}: row without {sorted(missing)}: {line}")
                rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"  # 82.7 % must not print as 83
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    failures: list[str] = []
    results = run_benchmarks(failed=failures)
    Path("build").mkdir(exist_ok=True)
    Path("build/bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    if failures:
        raise SystemExit(f"failed: {', '.join(failures)}")
