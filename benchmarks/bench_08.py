"""Benchmark for lesson 08: run the lesson in full mode and print its test accuracies as JSON lines.

References are the published test accuracies in ``slm_helpers.models.REFERENCES`` (Kim 2014
CNN-rand for the CNNs; Tai et al. 2015 for the BiLSTM on SST-2). The notebook itself
asserts the course bars (SST-2 >= 82.7 %, TREC >= 91.2 %).

Usage: ``python benchmarks/bench_08.py`` (``make bench`` runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_bench import emit, row, run_notebook  # noqa: E402

from slm_helpers.models import REFERENCES  # noqa: E402


def main() -> int:
    results, seconds, peak_mb = run_notebook("08_text_classification.ipynb")
    rows = []
    for dataset, accuracies in results["test_accuracy"].items():
        kim = REFERENCES[(dataset, "Kim 2014 CNN-rand")]
        times = results["train_seconds"][dataset]
        best = results["systems"][dataset]
        for model, accuracy in accuracies.items():
            reference, seconds_ = None, None
            if model.startswith("CNN"):
                reference = kim
            if model == "BiLSTM":
                reference, seconds_ = REFERENCES.get((dataset, "Tai et al. 2015 BiLSTM")), times["BiLSTM"]
            if model == "CNN":
                seconds_ = times["CNN"]
            if model == best:
                seconds_ = times["final"]
                model += " (chosen on dev)"
            rows.append(
                row(dataset, model, "test accuracy (%)", round(100 * accuracy, 1), reference, seconds_, peak_mb)
            )
    rows.append(
        row(
            "sst2+mr+trec",
            "lesson 08 notebook, full mode",
            "wall seconds (bar 300)",
            round(seconds, 1),
            300,
            seconds,
            peak_mb,
        )
    )
    emit(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
