"""The notebook harness really measures time and memory, and fails a notebook over a bar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def run_harness(tmp_path: Path, source: str, *bar_options: str) -> tuple[int, str, dict]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    report = tmp_path / "report.json"
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "tests.notebook_report", "--nbval-lax", "--nbval-current-env",
        "-p", "no:cacheprovider", f"--rootdir={tmp_path}", str(path), f"--notebook-report={report}",
        "--notebook-mode=fast", *bar_options,
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, json.loads(report.read_text())


def test_measures_and_fails_a_notebook_over_the_bars(tmp_path):
    code, out, report = run_harness(
        tmp_path,
        "import time, numpy as np\nblock = np.ones(400 * 2**20 // 8)\ntime.sleep(1.5)",
        "--notebook-bar-seconds=1",
        "--notebook-bar-mb=300",
    )
    (record,) = report["notebooks"]
    assert record["seconds"] >= 1.5 and record["peak_rss_mb"] >= 400
    assert code != 0, "a notebook over the bar must fail the run"
    assert "OVER BAR" in out and "probe.ipynb" in out


def test_passes_a_notebook_under_the_bars(tmp_path):
    code, out, report = run_harness(tmp_path, "x = 1 + 1")
    assert code == 0, out
    assert report["notebooks"][0]["over_bar"] == [] and report["notebooks"][0]["peak_rss_mb"] > 10
    assert report["notebooks"][0]["machine_gflops"] > 1 and len(report["notebooks"][0]["load_average"]) == 3


def test_bench_record_flags_runs_over_the_full_mode_bars(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from notebook_bench import record_run

    report = tmp_path / "bench.json"
    record_run("08_x.ipynb", 328.3, 1239, 36, 120.5, report=report)
    record_run("10_y.ipynb", 280.0, 1600, 36, 118.0, report=report)
    runs = {r["notebook"]: r for r in json.loads(report.read_text())["notebooks"]}
    assert runs["08_x.ipynb"]["over_bar"] == ["328 s > 300 s"] and runs["08_x.ipynb"]["machine_gflops"] == 120.5
    assert runs["10_y.ipynb"]["over_bar"] == ["1600 MB > 1536 MB"]


def test_machine_speed_is_measured():
    from slm_helpers.environment import machine_gflops

    assert machine_gflops(0.05) > 0.5


def test_a_child_counts_its_own_pages_not_the_ones_it_shares():
    import psutil

    from tests.notebook_report import _unshared_bytes

    code = "import sys, numpy as np; a = np.ones(50 * 2**20, np.uint8); print('ready', flush=True); sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        proc = psutil.Process(child.pid)
        uss, rss = _unshared_bytes(proc), proc.memory_info().rss
        assert 50 * 2**20 <= uss <= rss, "the child's own 50 MB array is counted, shared library pages are not"
        assert rss - uss > 2**20, "a Python child shares at least the interpreter's library pages"
    finally:
        child.stdin.close()
        child.wait(timeout=10)
