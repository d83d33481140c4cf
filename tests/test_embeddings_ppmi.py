"""PPMI + SVD: the PMI formula entry by entry, and the SVD's vectors against NumPy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from slm_helpers import embeddings as emb


def _counts(n=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, size=(n, n)).astype(float) * rng.uniform(0.2, 3, size=(n, n))
    return x + x.T  # symmetric, like GloVe's window counts


def test_ppmi_is_the_formula_entry_by_entry():
    x = _counts()
    total = x.sum()
    context = x.sum(axis=0) ** 0.75
    got = emb.ppmi_matrix(csr_matrix(x)).toarray()
    for i in range(len(x)):
        for j in range(len(x)):
            if x[i, j] == 0:
                assert got[i, j] == 0
                continue
            pmi = np.log((x[i, j] / total) / ((x[i].sum() / total) * (context[j] / context.sum())))
            assert got[i, j] == pytest.approx(max(pmi, 0.0), abs=1e-12)
    assert (got > 0).any() and (got[x > 0] == 0).any()  # some pairs meet less often than chance


def test_without_smoothing_it_is_plain_ppmi():
    x = _counts(seed=1)
    p = x / x.sum()
    independent = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    expected = np.log(p / independent, where=x > 0, out=np.zeros_like(x))
    np.testing.assert_allclose(emb.ppmi_matrix(x, context_smoothing=1.0).toarray(), np.maximum(expected, 0), atol=1e-12)


def test_svd_vectors_are_u_times_sigma_to_the_power():
    x = _counts(n=12, seed=2)
    ppmi = emb.ppmi_matrix(x).toarray()
    u, s, _ = np.linalg.svd(ppmi)
    for power in (0.0, 0.5, 1.0):
        got = emb.ppmi_svd_vectors(x, dim=3, eigenvalue_power=power)
        want = u[:, :3] * s[:3] ** power
        # singular vectors are defined up to sign: compare column by column
        for k in range(3):
            sign = np.sign(got[:, k] @ want[:, k])
            np.testing.assert_allclose(sign * got[:, k], want[:, k], atol=1e-5)
    np.testing.assert_array_equal(emb.ppmi_svd_vectors(x, 3), emb.ppmi_svd_vectors(x, 3))  # reproducible


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="square"):
        emb.ppmi_matrix(np.ones((2, 3)))
    with pytest.raises(ValueError, match="positive entries"):
        emb.ppmi_matrix(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no negative"):
        emb.ppmi_matrix(-np.ones((3, 3)))
    with pytest.raises(ValueError, match="dim must be between 1 and 6"):
        emb.ppmi_svd_vectors(_counts(), dim=7)
