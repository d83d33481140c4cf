"""The lesson-00 environment check."""

from __future__ import annotations

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
