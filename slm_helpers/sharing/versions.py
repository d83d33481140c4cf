"""What a hub says about one published version, and where hubs keep things by default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .card import Result

HUB_DIR_ENV = "SLM_HUB_DIR"


def default_hub_dir() -> Path:
    """``$SLM_HUB_DIR``, else ``~/.cache/slm-course/hub``."""
    raw = os.environ.get(HUB_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "slm-course" / "hub"


@dataclass(frozen=True)
class VersionInfo:
    """A published version: its tag, commit, date, manifest digest, card results and lineage."""

    repo_id: str
    version: str
    commit: str
    date: str | None = None
    manifest_digest: str | None = None
    results: tuple[Result, ...] = field(default=())
    base_model: str | None = None
    base_model_revision: str | None = None

    def metric(self, metric: str = "accuracy", *, split: str = "test", dataset: str | None = None) -> float | None:
        """The value of ``metric`` on ``split`` (and ``dataset`` if given) in the card, or ``None``."""
        for r in self.results:
            if r.metric == metric and r.split == split and dataset in (None, r.dataset, r.dataset_name):
                return r.value
        return None

    def row(self) -> dict[str, object]:
        """A flat dict for a table: version, short commit, date, lineage and every result."""
        row: dict[str, object] = {"version": self.version, "commit": self.commit[:10], "date": self.date}
        row["base"] = f"{self.base_model}@{self.base_model_revision}" if self.base_model else ""
        for r in self.results:
            row[f"{r.dataset_name} {r.split} {r.metric}"] = round(r.value, 4)
        return row
