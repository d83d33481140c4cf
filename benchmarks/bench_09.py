"""Benchmark for lesson 09: run the lesson in full mode and print its results as JSON lines.

The reference is nanoGPT's CPU recipe for Tiny Shakespeare (4 layers x 128, block 64,
batch 12, 2000 iterations, 0.80 M parameters, PyTorch): validation loss 1.886 after about
106 s of training on a 2-core machine. The notebook itself asserts the course bar (1.75).

Usage: ``python benchmarks/bench_09.py`` (``make bench`` runs it).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_bench import emit, row, run_notebook  # noqa: E402

NANOGPT_CPU_VAL_LOSS = 1.886


def main() -> int:
    results, seconds, peak_mb = run_notebook("09_small_language_model.ipynb")
    model = f"char GPT {results['layers']}x{results['width']} ({results['params'] / 1e6:.2f} M, Keras/XLA)"
    train_s = results["train_seconds"]
    emit(
        [
            row(
                "tiny_shakespeare",
                model,
                "val loss (nats/char)",
                round(results["val_loss"], 4),
                NANOGPT_CPU_VAL_LOSS,
                train_s,
                peak_mb,
            ),
            row(
                "tiny_shakespeare",
                model,
                "val bits/char",
                round(results["bpc"], 4),
                round(NANOGPT_CPU_VAL_LOSS / math.log(2), 4),
                train_s,
                peak_mb,
            ),
            row("tiny_shakespeare", model, "train ms/step", round(results["ms_per_step"], 1), None, train_s, peak_mb),
            row(
                "tiny_shakespeare", model, "train chars/s", round(results["tokens_per_second"]), None, train_s, peak_mb
            ),
            row(
                "tiny_shakespeare",
                "bigram (counts)",
                "val loss (nats/char)",
                round(results["bigram"], 4),
                None,
                None,
                peak_mb,
            ),
            row(
                "tiny_shakespeare",
                "lesson 09 notebook, full mode",
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
