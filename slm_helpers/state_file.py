"""Token states of many sequences in one file on disk, read back one sequence at a time.

Lesson 10 runs the frozen lower layers of MiniLM once and trains the upper layers on their
output, the token states of every sentence: 128 MB for SST-2's training set even in
float16. Held in the kernel's memory they set the lesson's peak, and on Binder (at most
2 GB) a learner's kernel has little to spare. Written to a file, they cost the process
nothing: each training batch reads its rows back with plain file reads (not a memory map,
whose pages would stay mapped in the process once an epoch has touched them), and the
operating system keeps the file in its page cache while memory is plentiful and drops it
when memory is short, which it cannot do with a process's own arrays.

:class:`StateFile` is a read-only ``Sequence`` of 2-D arrays once written, so it goes
wherever a list of arrays goes (``pretrained.state_dataset``). The file is an unnamed
temporary file: it disappears when the :class:`StateFile` is closed or garbage-collected,
and nothing is left on disk if the kernel dies.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np


class StateFile(Sequence[np.ndarray]):
    """Variable-length ``(length, dim)`` arrays of one dtype, stored in a temporary file.

    ``put(i, array)`` writes sequence ``i`` (in any order, each index once);
    ``states[i]`` reads it back as a fresh array. ``dir`` picks the folder of the
    temporary file (default: the system's temporary folder).
    """

    def __init__(self, n: int, dim: int, dtype: Any = np.float16, dir: str | Path | None = None) -> None:
        if n < 0 or dim <= 0:
            raise ValueError(f"StateFile needs n >= 0 sequences of width dim > 0, got n={n}, dim={dim}")
        self.dim, self.dtype = int(dim), np.dtype(dtype)
        self._row_bytes = self.dim * self.dtype.itemsize
        self._offsets = np.full(n, -1, dtype=np.int64)  # byte offset of each sequence, -1 = not written
        self._lengths = np.zeros(n, dtype=np.int64)
        self._end = 0
        # Open for the object's lifetime, not a with-block: close() or garbage collection ends it.
        self._file = tempfile.TemporaryFile(dir=dir)  # noqa: SIM115

    def put(self, i: int, array: np.ndarray) -> None:
        """Write sequence ``i``: a ``(length, dim)`` array, cast to the file's dtype."""
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise ValueError(f"sequence {i}: expected shape (length, {self.dim}), got {array.shape}")
        if self._offsets[i] >= 0:
            raise ValueError(f"sequence {i} was already written")
        data = np.ascontiguousarray(array, dtype=self.dtype).tobytes()
        self._file.seek(self._end)
        self._file.write(data)
        self._offsets[i], self._lengths[i] = self._end, len(array)
        self._end += len(data)

    @property
    def lengths(self) -> np.ndarray:
        """The length of every sequence (rows), without reading the file."""
        return self._lengths.copy()

    @property
    def nbytes(self) -> int:
        """Bytes written to the file so far."""
        return self._end

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray]: ...
    def __getitem__(self, i: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"sequence {i} out of range for {len(self)} sequences")
        offset = self._offsets[i]
        if offset < 0:
            raise KeyError(f"sequence {i} was never written")
        if self._file.closed:
            raise ValueError("this StateFile is closed")
        self._file.seek(offset)
        data = self._file.read(int(self._lengths[i]) * self._row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(-1, self.dim)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def close(self) -> None:
        """Delete the file now (it also goes when this object is garbage-collected)."""
        self._file.close()

    def __enter__(self) -> StateFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateFile({len(self)} sequences of width {self.dim}, {self.dtype}, {self._end / 2**20:.1f} MB on disk)"
