"""Exercise checks explain failures; compare reports max differences honestly."""

from __future__ import annotations

import numpy as np
import pytest

from slm_helpers import check
from slm_helpers.check import ExerciseCheckError
from slm_helpers.compare import compare


def test_close_passes_and_prints(capsys):
    check.close(0.1 + 0.2, 0.3, "float sum")
    assert capsys.readouterr().out.strip() == "✓ float sum"


def test_close_failure_says_expected_got_and_hint():
    with pytest.raises(ExerciseCheckError) as err:
        check.close(2.0, 3.0, "perplexity of a 3-way guess", hint="exp of the mean NLL")
    message = str(err.value)
    assert "✗ perplexity of a 3-way guess" in message
    assert "expected: 3.0" in message and "got:      2.0" in message and "hint:     exp of the mean NLL" in message
    assert isinstance(err.value, AssertionError)  # nbgrader scores it as a failed test


def test_close_catches_shape_and_nan_and_unfinished_work():
    with pytest.raises(ExerciseCheckError, match=r"shape \(3,\)"):
        check.close(np.zeros(2), np.zeros(3), "vector")
    with pytest.raises(ExerciseCheckError, match="nan or inf"):
        check.close(np.array([np.nan]), np.array([1.0]), "loss")
    with pytest.raises(ExerciseCheckError, match="not done yet"):
        check.close(None, 1.0, "answer")
    with pytest.raises(ExerciseCheckError, match="a number or array"):
        check.close("three", 3.0, "answer")


def test_equal_shape_true_instance_raises():
    check.equal([1, 2], [1, 2], "lists")
    check.equal(np.array([1, 2]), np.array([1, 2]), "arrays")
    with pytest.raises(ExerciseCheckError):
        check.equal(np.array([1, 2]), np.array([1, 2, 3]), "arrays of other length")
    check.shape(np.zeros((2, 5)), (2, None), "batch of anything")
    with pytest.raises(ExerciseCheckError, match=r"shape \(2, 5\)"):
        check.shape(np.zeros((5, 2)), (2, 5), "transposed")
    with pytest.raises(ExerciseCheckError, match="expected: True"):
        check.true(False, "condition")
    with pytest.raises(ExerciseCheckError, match="a int"):
        check.is_instance(1, int, "ok") or check.is_instance("1", int, "an int")
    check.raises(lambda: 1 / 0, ZeroDivisionError, "division by zero")
    with pytest.raises(ExerciseCheckError, match="no error"):
        check.raises(lambda: 1, ValueError, "should raise")
    with pytest.raises(ExerciseCheckError, match="KeyError"):
        check.raises(lambda: {}["x"], ValueError, "wrong error")


def test_compare_numeric_reports_max_diff():
    report = compare("ours", np.ones((2, 3)), "theirs", np.ones((2, 3)) + 3e-7)
    assert report.ok and abs(report.max_abs_diff - 3e-7) < 1e-12
    assert "max |diff| 3.0e-07" in str(report) and "✓" in str(report)
    bad = compare("ours", np.zeros(3), "theirs", np.array([0, 0, 1e-3]))
    assert not bad.ok and bad.mismatches == 1
    with pytest.raises(AssertionError, match="✗"):
        bad.assert_ok()


def test_compare_nan_is_never_ok():
    assert not compare("a", np.array([np.nan]), "b", np.array([0.0])).ok


def test_compare_tokens_and_shapes():
    same = compare("ours", ["a", "b"], "keras", np.array(["a", "b"]))
    assert same.ok and "0 of 2 items differ" in str(same)
    assert not compare("ours", ["a", "b"], "keras", ["a", "c"]).ok
    with pytest.raises(ValueError, match="shapes differ"):
        compare("ours", np.zeros(2), "keras", np.zeros(3))
