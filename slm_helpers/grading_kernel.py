"""A Python kernel with a memory ceiling, for autograding untrusted submissions.

nbgrader starts this instead of the plain ``python3`` kernel (see ``slm_helpers.grading``).
Before ipykernel starts, it caps the process's data segment (``RLIMIT_DATA``: heap and
private anonymous memory) so that a submission allocating without bound gets a
``MemoryError`` in its own cell instead of taking the grading machine down. Infinite loops
are handled by nbgrader's per-cell timeout, which interrupts the kernel.
"""

from __future__ import annotations

import os
import resource
import sys

MEMORY_ENV = "SLM_GRADER_MEMORY_MB"
DEFAULT_MEMORY_MB = 4096


def limit_memory(megabytes: int) -> None:
    """Cap this process's data segment at ``megabytes`` MiB."""
    limit = megabytes * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def main() -> None:
    limit_memory(int(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_MB)))
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=sys.argv[1:])


if __name__ == "__main__":
    main()
