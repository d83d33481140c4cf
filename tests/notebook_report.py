"""pytest plugin: time every notebook nbval runs, track its kernel's peak memory, check bars.

Loaded with ``-p tests.notebook_report`` next to ``--nbval-lax``. For each notebook it
records the wall time (kernel start to kernel stop) and the peak memory of the kernel
process (resident set) and its children (their unshared pages, so a library both map counts
once; polled every 50 ms with psutil), prints a table at the
end, writes the numbers to a JSON report, and fails the run when a notebook is over the
bar for the mode (COURSE.md §7: 60 s fast / 300 s full, 1.5 GB in both). Each record also
holds the machine's speed (``machine_gflops``) and load average just before the notebook ran.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import psutil
import pytest

from slm_helpers import settings
from slm_helpers.environment import machine_gflops

BARS = settings.NOTEBOOK_BARS


@dataclass
class NotebookRun:
    notebook: str
    mode: str
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cells: int = 0
    failed_cells: int = 0
    over_bar: list[str] = field(default_factory=list)
    # The machine's speed just before the notebook ran: shared 2-core VMs change speed by a
    # third within a day, so a time means little without it.
    machine_gflops: float = 0.0
    load_average: list[float] = field(default_factory=list)
    _start: float = field(default=0.0, repr=False)
    _monitor: RssMonitor | None = field(default=None, repr=False)


def _unshared_bytes(proc: psutil.Process) -> int:
    """A child's memory not shared with other processes (USS), else its RSS.

    A child that loads the same libraries as the kernel (a fresh Python importing TensorFlow)
    maps the same file pages: the machine holds them once, so counting the child's RSS on top
    of the kernel's would count them twice (libtensorflow_cc alone is ~320 MB).
    """
    try:
        return int(proc.memory_full_info().uss)
    except (psutil.AccessDenied, AttributeError):
        return int(proc.memory_info().rss)


class RssMonitor(threading.Thread):
    """Poll a process tree's memory and keep the maximum: the kernel's RSS plus its children's USS."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        try:
            # Read once: reading another process's command line takes its memory-map lock, and
            # polling it 20 times a second slowed lesson 10's training by a third.
            kernel_cmd = root.cmdline()
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.is_set():
            try:
                total = root.memory_info().rss
                for proc in root.children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        # A child that was just forked (e.g. before exec'ing git) still shows the
                        # kernel's command line and reports the kernel's pages: don't count them twice.
                        if proc.cmdline() == kernel_cmd:
                            continue
                        total += _unshared_bytes(proc)
                self.peak = max(self.peak, total)
            except psutil.NoSuchProcess:
                return
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=2)
        return self.peak


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("notebook report")
    group.addoption("--notebook-report", default="build/notebooks.json", help="JSON report path")
    group.addoption(
        "--notebook-mode",
        default=None,
        choices=["fast", "full"],
        help="which bars apply (default: fast when SLM_FAST=1, else full)",
    )
    group.addoption("--notebook-bar-seconds", type=float, default=None, help="override the time bar")
    group.addoption("--notebook-bar-mb", type=float, default=None, help="override the memory bar")


def _mode(config: pytest.Config) -> str:
    chosen = config.getoption("--notebook-mode")
    if chosen:
        return chosen
    return "fast" if os.environ.get("SLM_FAST", "") in ("1", "true", "yes", "on") else "full"


def _runs(config: pytest.Config) -> dict[str, NotebookRun]:
    if not hasattr(config, "_notebook_runs"):
        config._notebook_runs = {}  # type: ignore[attr-defined]
    return config._notebook_runs  # type: ignore[attr-defined]


def _is_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def _kernel_pid(notebook_file: object) -> int | None:
    kernel = getattr(notebook_file, "kernel", None)
    km = getattr(kernel, "km", None)
    provisioner = getattr(km, "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    return int(pid) if pid else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    runs = _runs(item.config)
    key = str(item.parent.path) if _is_cell(item) else None
    if key and key not in runs:
        speed, load = machine_gflops(), [round(x, 2) for x in os.getloadavg()]
        runs[key] = NotebookRun(
            Path(key).name, _mode(item.config), machine_gflops=speed, load_average=load, _start=time.perf_counter()
        )
    yield
    if key:
        run = runs[key]
        run.cells += 1
        if run._monitor is None:
            pid = _kernel_pid(item.parent)
            if pid:
                run._monitor = RssMonitor(pid)
                run._monitor.start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    last_cell = _is_cell(item) and (nextitem is None or nextitem.parent is not item.parent)
    if last_cell:
        _finish(_runs(item.config)[str(item.parent.path)], _bar(item.config))
    yield


def _bar(config: pytest.Config) -> dict[str, float]:
    bar = dict(BARS[_mode(config)])
    if config.getoption("--notebook-bar-seconds") is not None:
        bar["seconds"] = config.getoption("--notebook-bar-seconds")
    if config.getoption("--notebook-bar-mb") is not None:
        bar["rss_mb"] = config.getoption("--notebook-bar-mb")
    return bar


def _finish(run: NotebookRun, bar: dict[str, float]) -> None:
    run.seconds = time.perf_counter() - run._start
    if run._monitor is not None:
        run.peak_rss_mb = run._monitor.stop() / 2**20
    if run.seconds > bar["seconds"]:
        run.over_bar.append(f"{run.seconds:.0f} s > {bar['seconds']:.0f} s")
    if run.peak_rss_mb > bar["rss_mb"]:
        run.over_bar.append(f"{run.peak_rss_mb:.0f} MB > {bar['rss_mb']:.0f} MB")


_FAILED_CELLS: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and "::Cell" in report.nodeid:
        _FAILED_CELLS.append(report.nodeid.split("::")[0])  # e.g. notebooks/01_x.ipynb


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    runs = _runs(session.config)
    if not runs:
        return
    for run in runs.values():
        run.failed_cells = sum(1 for f in _FAILED_CELLS if Path(f).name == run.notebook)
    path = Path(session.config.getoption("--notebook-report"))
    path.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for run in sorted(runs.values(), key=lambda r: r.notebook):
        record = {f.name: getattr(run, f.name) for f in fields(run) if not f.name.startswith("_")}
        record["seconds"] = round(record["seconds"], 1)
        record["peak_rss_mb"] = round(record["peak_rss_mb"])
        records.append(record)
    path.write_text(json.dumps({"mode": _mode(session.config), "notebooks": records}, indent=2) + "\n")
    if any(run.over_bar for run in runs.values()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    runs = _runs(config)
    if not runs:
        return
    mode = _mode(config)
    bar = _bar(config)
    tr = terminalreporter
    tr.section(f"notebooks ({mode} mode; bar {bar['seconds']:.0f} s, {bar['rss_mb']:.0f} MB)")
    tr.write_line(f"{'notebook':44} {'cells':>5} {'wall s':>8} {'peak MB':>8}  verdict")
    for run in sorted(runs.values(), key=lambda r: r.notebook):
        verdict = "OVER BAR: " + "; ".join(run.over_bar) if run.over_bar else "ok"
        tr.write_line(f"{run.notebook:44} {run.cells:>5} {run.seconds:>8.1f} {run.peak_rss_mb:>8.0f}  {verdict}")
    tr.write_line(f"report written to {config.getoption('--notebook-report')}")
