"""StateFile keeps variable-length token states in a temporary file and reads them back exactly."""

from __future__ import annotations

import gc
import os

import numpy as np
import psutil
import pytest

from slm_helpers import pretrained as pt
from slm_helpers.state_file import StateFile


def _states(n: int = 7, dim: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(1, 9)), dim)).astype(np.float32) for _ in range(n)]


def test_reads_back_what_was_put_in_any_order():
    arrays = _states()
    store = StateFile(len(arrays), 5, np.float16)
    for i in reversed(range(len(arrays))):  # encode_frozen writes in length order, not index order
        store.put(i, arrays[i])
    assert len(store) == len(arrays)
    assert store.lengths.tolist() == [len(a) for a in arrays]
    assert store.nbytes == sum(a.size for a in arrays) * 2
    for got, want in zip(store, arrays, strict=True):
        assert got.dtype == np.float16 and got.shape == want.shape
        np.testing.assert_array_equal(got, want.astype(np.float16))  # float16 is the only change
    assert [a.shape for a in store[1:3]] == [arrays[1].shape, arrays[2].shape]
    np.testing.assert_array_equal(store[-1], arrays[-1].astype(np.float16))


def test_bad_input_is_refused_with_a_clear_message():
    store = StateFile(3, 4)
    with pytest.raises(ValueError, match=r"expected shape \(length, 4\), got \(2, 3\)"):
        store.put(0, np.zeros((2, 3)))
    store.put(0, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="already written"):
        store.put(0, np.zeros((2, 4)))
    with pytest.raises(KeyError, match="never written"):
        store[1]
    with pytest.raises(IndexError, match="out of range"):
        store[3]
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store[0]
    with pytest.raises(ValueError, match="dim > 0"):
        StateFile(2, 0)


def test_the_file_goes_with_the_object(tmp_path):
    store = StateFile(1, 3, dir=tmp_path)
    store.put(0, np.ones((4, 3)))
    store._file.flush()
    fd = store._file.fileno()
    assert os.fstat(fd).st_size == 4 * 3 * 2 and not list(tmp_path.iterdir())  # unnamed: nothing to leave behind
    del store
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_states_on_disk_cost_the_process_no_memory():
    # 64 MB of states: in a list they are the process's memory; in a StateFile they are not,
    # and reading them all back (one training epoch) does not bring them into it either.
    process = psutil.Process()
    rows, dim, n = 256, 384, 340  # 340 x 256 x 384 x 2 bytes = 64 MB (63.75 MiB)
    block = np.ones((rows, dim), dtype=np.float16)
    gc.collect()
    before = process.memory_info().rss
    store = StateFile(n, dim)
    for i in range(n):
        store.put(i, block)
    total = sum(float(store[i][0, 0]) for i in range(n))
    grown = (process.memory_info().rss - before) / 2**20
    assert total == n and store.nbytes == n * rows * dim * 2
    assert grown < 16, f"a StateFile of 64 MB grew the process by {grown:.0f} MB"


def test_state_dataset_reads_a_state_file_like_a_list():
    arrays = _states(6, 4)
    labels = np.array([0, 1, 1, 0, 1, 0])
    store = StateFile(len(arrays), 4, np.float32)
    for i, a in enumerate(arrays):
        store.put(i, a)
    from_list = list(pt.state_dataset(arrays, labels, 4))
    from_file = list(pt.state_dataset(store, labels, 4))
    assert len(from_list) == len(from_file) == 2
    for (xa, ya), (xb, yb) in zip(from_list, from_file, strict=True):
        np.testing.assert_array_equal(xa["hidden"].numpy(), xb["hidden"].numpy())
        np.testing.assert_array_equal(xa["padding_mask"].numpy(), xb["padding_mask"].numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
