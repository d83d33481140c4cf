"""The lesson-00 environment check."""

from __future__ import annotations

import subprocess
import sys

from slm_helpers import environment


def test_report_in_the_course_venv_is_clean():
    report = environment.check_environment(with_gpu=False)
    assert report.ok, report.problems
    assert report.cpu_count >= 1 and report.ram_total_gb > 0
    assert report.versions["keras"].startswith("3.")
    assert "All checks passed." in str(report)


def test_a_version_drift_is_reported(tmp_path):
    fake = tmp_path / "constraints.txt"
    fake.write_text("keras==2.15.0\nnumpy==1.0.0\n")
    report = environment.check_environment(with_gpu=False, constraints=fake)
    assert any("keras" in p and "2.15.0" in p for p in report.problems)
    assert not report.ok


def test_read_constraints_normalises_names(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("# comment\nKeras_Hub==0.32.0  # trailing\nhuggingface.hub==1\n")
    assert environment.read_constraints(path) == {"keras-hub": "0.32.0", "huggingface-hub": "1"}


# ---------------------------------------------------------------- container memory limits


def fake_cgroup(tmp_path, files: dict[str, str], own: str = "0::/") -> tuple:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(own + "\n")
    return tmp_path, proc


def test_container_limit_reads_cgroup_v2_own_group_and_root(tmp_path):
    root, proc = fake_cgroup(tmp_path, {"memory.max": "max\n", "user/kernel/memory.max": "2147483648\n"},
                             own="0::/user/kernel")
    assert environment.container_memory_limit(root, {}, proc) == 2 * 2**30
    root, proc = fake_cgroup(tmp_path / "b", {"memory.max": "max\n"})
    assert environment.container_memory_limit(root, {}, proc) is None  # "max" is no limit


def test_container_limit_reads_cgroup_v1_and_mem_limit(tmp_path):
    root, proc = fake_cgroup(tmp_path, {"memory/memory.limit_in_bytes": "9223372036854771712\n"})
    assert environment.container_memory_limit(root, {}, proc) is None  # v1's "unlimited"
    root, proc = fake_cgroup(tmp_path / "b", {"memory/memory.limit_in_bytes": "3221225472\n"})
    assert environment.container_memory_limit(root, {}, proc) == 3 * 2**30
    # mybinder.org sets MEM_LIMIT; the smallest limit wins
    assert environment.container_memory_limit(root, {"MEM_LIMIT": "1073741824"}, proc) == 2**30
    assert environment.container_memory_limit(tmp_path / "none", {"MEM_LIMIT": "junk"}, proc) is None


def test_a_small_container_limit_caps_available_memory_and_warns(monkeypatch):
    monkeypatch.setattr(environment, "container_memory_limit", lambda: 2 * 10**9)
    report = environment.check_environment(with_gpu=False)
    assert report.memory_limit_gb == 2.0 and report.ram_available_gb <= 2.0
    assert any("one lesson at a time" in w for w in report.warnings)
    assert "container limit 2.0 GB" in str(report)


def test_probe_asks_tensorflow_in_a_child_and_keeps_its_log():
    code = (
        "import sys; from slm_helpers import environment as e; p = e.probe_tensorflow(); "
        "print('tensorflow' in sys.modules, p.error, isinstance(p.gpus, list), len(p.startup_log))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    imported, error, is_list, n_log = out.stdout.split()
    assert (imported, error, is_list) == ("False", "None", "True"), out.stdout + out.stderr
    assert not out.stderr.strip(), f"the probe leaked TensorFlow's log: {out.stderr[:300]}"
    assert int(n_log) >= 0


def test_a_broken_tensorflow_is_a_problem_with_its_message(monkeypatch):
    monkeypatch.setattr(environment, "_GPU_PROBE", "import sys; sys.exit('ImportError: libtensorflow_cc.so.2')")
    probe = environment.probe_tensorflow()
    assert probe.gpus == [] and probe.error == "importing TensorFlow failed: ImportError: libtensorflow_cc.so.2"
    report = environment.check_environment()
    assert not report.ok and any("importing TensorFlow failed" in p for p in report.problems)


def test_a_hanging_tensorflow_import_times_out(monkeypatch):
    monkeypatch.setattr(environment, "_GPU_PROBE", "import time; time.sleep(30)")
    probe = environment.probe_tensorflow(timeout=1)
    assert probe.error == "importing TensorFlow took more than 1 s" and probe.gpus == []
