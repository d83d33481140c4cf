"""Run a lesson notebook in full mode and read back the ``results`` dict it builds.

Each lesson's notebook *is* its benchmark: the models ``make bench`` reports are the ones
the lesson trains, with the lesson's own full-mode settings. :func:`run_notebook`
executes the notebook top to bottom with nbclient (``SLM_FAST`` unset), watches the
kernel's peak memory (the whole process tree, every 50 ms), then appends one cell that
prints the lesson's ``results`` dict as JSON and parses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

from slm_helpers import settings
from slm_helpers.environment import machine_gflops

ROOT = Path(__file__).resolve().parents[1]
MARKER = "BENCH_RESULTS "
RESULTS_CELL = f'import json as _json\nprint("{MARKER}" + _json.dumps(results, default=float))'


class PeakRss(threading.Thread):
    """Poll a process tree's resident memory every 50 ms and keep the maximum (bytes)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop_event = pid, 0, threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.wait(0.05):
            total = 0
            try:
                for proc in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                return
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(timeout=2)
        return self.peak / 2**20


def run_notebook(name: str, timeout: int = 1800) -> tuple[dict, float, float]:
    """Execute ``notebooks/<name>`` in full mode; return (its ``results``, wall seconds, peak MB)."""
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / name
    os.environ.pop("SLM_FAST", None)
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(RESULTS_CELL))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    speed = machine_gflops()
    start = time.perf_counter()
    with client.setup_kernel():
        monitor = PeakRss(client.km.provisioner.process.pid)
        monitor.start()
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        finally:
            peak_mb = monitor.stop()
    seconds = time.perf_counter() - start
    record_run(name, seconds, peak_mb, sum(cell.cell_type == "code" for cell in nb.cells) - 1, speed)
    for output in nb.cells[-1].outputs:
        for line in output.get("text", "").splitlines():
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER) :]), seconds, peak_mb
    raise RuntimeError(f"{name} ran but printed no results; does it still define `results`?")


def record_run(
    name: str,
    seconds: float,
    peak_mb: float,
    cells: int,
    speed_gflops: float = 0.0,
    report: Path = ROOT / "build" / "notebooks-bench.json",
) -> None:
    """Add this full-mode run to a report in the notebook harness's format (for the lesson table)."""
    bar = settings.NOTEBOOK_BARS["full"]
    over_bar = [f"{seconds:.0f} s > {bar['seconds']:.0f} s"] if seconds > bar["seconds"] else []
    over_bar += [f"{peak_mb:.0f} MB > {bar['rss_mb']:.0f} MB"] if peak_mb > bar["rss_mb"] else []
    runs = json.loads(report.read_text())["notebooks"] if report.exists() else []
    runs = [r for r in runs if r["notebook"] != name]
    runs.append(
        dict(
            notebook=name,
            mode="full",
            seconds=round(seconds, 1),
            peak_rss_mb=round(peak_mb),
            cells=cells,
            failed_cells=0,
            over_bar=over_bar,
            machine_gflops=speed_gflops,
            load_average=[round(x, 2) for x in os.getloadavg()],
        )
    )
    report.parent.mkdir(exist_ok=True)
    report.write_text(
        json.dumps(dict(mode="full", notebooks=sorted(runs, key=lambda r: r["notebook"])), indent=2) + "\n"
    )


def row(
    dataset: str,
    model: str,
    metric: str,
    ours: float | None,
    reference: float | None,
    seconds: float | None,
    peak_mb: float,
) -> dict:
    """One line of the ``make bench`` table (the columns ``tools/bench.py`` expects)."""
    return dict(
        dataset=dataset,
        model=model,
        metric=metric,
        ours=ours,
        reference=reference,
        seconds=None if seconds is None else round(seconds, 1),
        peak_mb=round(peak_mb),
    )


def emit(rows: list[dict]) -> None:
    """Print the rows as JSON lines (what ``tools/bench.py`` reads)."""
    for r in rows:
        print(json.dumps(r), flush=True)
