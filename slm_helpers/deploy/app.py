"""The sentiment app's logic: plain functions (tested) and the ipywidgets wiring that calls them.

The app is ``notebooks/apps/sentiment_app.ipynb``, servable with Voilà. Which tokens mattered is
measured by occlusion: drop one token, see how far P(positive) moves.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .encoding import TextEncoder

APP_DIR_ENV = "SLM_APP_DIR"


def app_dir() -> Path:
    """Where lesson 12 puts the release the app serves: ``$SLM_APP_DIR`` or ``~/.cache/slm-course/apps/sentiment``."""
    raw = os.environ.get(APP_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "slm-course" / "apps" / "sentiment"


def current_release(root: str | Path | None = None) -> Path | None:
    """The release folder named in ``<app dir>/current.json``, or ``None`` if lesson 12 has not written one."""
    root = Path(root) if root is not None else app_dir()
    pointer = root / "current.json"
    if not pointer.is_file():
        return None
    folder = root / json.loads(pointer.read_text("utf-8"))["release"]
    return folder if folder.is_dir() else None


def set_current_release(root: str | Path, folder: str | Path) -> Path:
    """Point ``<root>/current.json`` at ``folder`` (a subfolder of ``root``), atomically."""
    root, folder = Path(root), Path(folder)
    rel = folder.resolve().relative_to(root.resolve())
    tmp = root / "current.json.tmp"
    tmp.write_text(json.dumps({"release": str(rel)}), "utf-8")
    os.replace(tmp, root / "current.json")
    return root / "current.json"


def analyse(
    predict_texts: Callable[[list[str]], np.ndarray], encoder: TextEncoder, text: str, *, top: int = 5
) -> dict[str, Any]:
    """Label, P(positive) and the ``top`` tokens whose removal moves P(positive) most (signed).

    One model call for the text and all its one-token-removed variants (a batch of n + 1).
    """
    tokens = encoder.tokens(text)[: encoder.length]
    if not tokens:
        return {"label": None, "p_positive": None, "tokens": [], "message": "type a sentence"}
    variants = [" ".join(tokens)] + [" ".join(tokens[:i] + tokens[i + 1 :]) for i in range(len(tokens))]
    p = np.asarray(predict_texts(variants), np.float64)
    effects = p[0] - p[1:]  # > 0: the token pushed towards positive
    order = np.argsort(-np.abs(effects), kind="stable")[:top]
    unknown = [t for t in tokens if encoder([t])[0, 0] == 1]
    return {
        "label": "positive" if p[0] > 0.5 else "negative",
        "p_positive": float(p[0]),
        "tokens": [(tokens[i], float(effects[i])) for i in order],
        "unknown": unknown,
        "message": "",
    }


def render(result: dict[str, Any]) -> str:
    """HTML for one :func:`analyse` result: the label, a probability bar, the tokens that mattered."""
    if result["label"] is None:
        return f"<p><i>{html.escape(result['message'])}</i></p>"
    p = result["p_positive"]
    rows = "".join(
        f"<tr><td><code>{html.escape(tok)}</code></td>"
        f"<td style='color:{'#1a7f37' if eff > 0 else '#cf222e'}'>{eff:+.3f}</td></tr>"
        for tok, eff in result["tokens"]
    )
    unknown = ", ".join(html.escape(t) for t in result["unknown"]) or "none"
    return (
        f"<h3 class='slm-label'>{result['label']}</h3>"
        f"<div style='background:#eee;width:300px'><div style='background:#2da44e;height:14px;width:{300 * p:.0f}px'>"
        f"</div></div><p>P(positive) = <b class='slm-p'>{p:.3f}</b></p>"
        f"<table><tr><th>token</th><th>effect on P(positive)</th></tr>{rows}</table>"
        f"<p>words the model never saw (mapped to [UNK]): {unknown}</p>"
    )


def build_app(predict_texts: Callable[[list[str]], np.ndarray], encoder: TextEncoder, *, title: str,
              initial: str = "a gripping , beautifully acted film") -> Any:
    """An ipywidgets box: a text field whose every change re-renders :func:`render` of :func:`analyse`."""
    import ipywidgets as widgets

    box = widgets.Text(value=initial, description="Review:", layout=widgets.Layout(width="600px"),
                       continuous_update=True)
    out = widgets.HTML(render(analyse(predict_texts, encoder, initial)))

    def update(change: dict[str, Any]) -> None:
        out.value = render(analyse(predict_texts, encoder, change["new"]))

    box.observe(update, names="value")
    return widgets.VBox([widgets.HTML(f"<h2>{html.escape(title)}</h2>"), box, out])
