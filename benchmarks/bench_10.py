"""Benchmark for lesson 10: run the lesson in full mode and print its results as JSON lines.

References: lesson 08's from-scratch bar, Kim (2014) CNN-rand on SST-2, 0.827 (see
``../shared/data/README.md``). The notebook itself asserts the course bar for lesson 10
(fine-tuned MiniLM, SST-2 test accuracy at least 0.86).

Usage: ``python benchmarks/bench_10.py`` (``make bench`` runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_bench import emit, row, run_notebook  # noqa: E402

KIM_CNN_RAND_SST2 = 0.827


def main() -> int:
    results, seconds, peak_mb = run_notebook("10_pretrained_slms.ipynb")
    tuned = f"all-MiniLM-L6-v2, top {6 - results['first_trainable']} layers fine-tuned, {results['epochs']} epochs"
    probe = f"all-MiniLM-L6-v2 frozen + logistic regression (C={results['probe_C']})"
    train_s = results["train_seconds"]
    emit(
        [
            row(
                "sst2",
                tuned,
                "test accuracy",
                round(results["fine_tuned_test"], 4),
                KIM_CNN_RAND_SST2,
                train_s,
                peak_mb,
            ),
            row("sst2", probe, "test accuracy", round(results["probe_test"], 4), KIM_CNN_RAND_SST2, None, peak_mb),
            row(
                "sst2",
                "all-MiniLM-L6-v2 encoder (Keras, CPU)",
                "sentences/s",
                round(results["sentences_per_second"], 1),
                None,
                results["encode_seconds"],
                peak_mb,
            ),
            row(
                "sst2",
                "lesson 10 notebook, full mode",
                "wall seconds (bar 300)",
                round(seconds, 1),
                300,
                seconds,
                peak_mb,
            ),
        ]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
