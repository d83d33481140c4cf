"""The plain functions behind the lessons' interactive views (tested without a browser).

- :func:`parse_query` and :func:`nearest_neighbours`: what the explorer's text box runs
  (``"film"``, or vector arithmetic such as ``"king - man + woman"``);
- :func:`neighbours_figure`: the plotly bar chart of a result;
- :func:`pca_project` and :func:`projection_figure`: the 3-D PCA view of chosen words;
- :func:`neighbours_html`: the same result as an HTML table with bars (no JavaScript);
- :func:`explorer_widget`: the ipywidgets front end wiring them together.

The widget shows its results in an ``ipywidgets.HTML`` whose ``value`` the callback sets,
not in an ``Output`` widget: headless runners (nbclient, hence nbgrader) emulate ``Output``
widgets with extra kernel messages and can stall on them (jupyter/nbclient#312).
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_QUERY_TOKEN = re.compile(r"[+-]|[^\s+-]+")


def parse_query(query: str) -> tuple[list[str], list[str]]:
    """Split ``"king - man + woman"`` into positive and negative words (lower-cased).

    A bare word is positive; ``+`` and ``-`` apply to the word after them. Raises
    ``ValueError`` for an empty query or an operator with no word after it.
    """
    tokens = _QUERY_TOKEN.findall(query.strip().lower())
    if not tokens:
        raise ValueError("type a word, or words joined by + and -, e.g. 'king - man + woman'")
    positive: list[str] = []
    negative: list[str] = []
    sign = "+"
    pending = False
    for tok in tokens:
        if tok in "+-":
            if pending:
                raise ValueError(f"two operators in a row in {query!r}")
            sign, pending = tok, True
            continue
        (positive if sign == "+" else negative).append(tok)
        sign, pending = "+", False
    if pending:
        raise ValueError(f"{query!r} ends with an operator; add a word after it")
    if not positive:
        raise ValueError(f"{query!r} has no positive word; start with a word, e.g. 'king - man + woman'")
    return positive, negative


@dataclass
class NeighbourResult:
    """Nearest neighbours of a query, or why there are none."""

    query: str
    positive: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    neighbours: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""
    suggestions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error

    def markdown(self) -> str:
        """A Markdown table of the neighbours, or the error with spelling suggestions."""
        if not self.ok:
            lines = [f"**{self.error}**"]
            for word, close in self.suggestions.items():
                if close:
                    lines.append(f"- did you mean {', '.join(f'`{c}`' for c in close)} for `{word}`?")
            return "\n".join(lines)
        rows = [f"| {rank} | {word} | {sim:.3f} |" for rank, (word, sim) in enumerate(self.neighbours, 1)]
        return "\n".join([f"Nearest to `{self.query}`:", "", "| # | word | cosine |", "|---|---|---|", *rows])


def nearest_neighbours(kv: Any, query: str, topn: int = 10) -> NeighbourResult:
    """Neighbours of ``query`` by cosine similarity (3CosAdd for ``a - b + c`` queries).

    Never raises for a bad query: the result's ``error`` says what is wrong (unknown
    word, with close spellings from the vocabulary; malformed arithmetic).
    """
    if topn < 1:
        raise ValueError(f"topn must be at least 1, got {topn}")
    try:
        positive, negative = parse_query(query)
    except ValueError as exc:
        return NeighbourResult(query, error=str(exc))
    missing = [w for w in positive + negative if w not in kv.key_to_index]
    if missing:
        vocab = kv.index_to_key
        suggestions = {w: difflib.get_close_matches(w, vocab, n=3, cutoff=0.75) for w in missing}
        names = ", ".join(f"'{w}'" for w in missing)
        return NeighbourResult(query, positive, negative,
                               error=f"not in the vocabulary ({len(vocab):,} words): {names}",
                               suggestions=suggestions)
    sims = kv.most_similar(positive=positive, negative=negative, topn=topn)
    return NeighbourResult(query, positive, negative, [(w, float(s)) for w, s in sims])


def neighbours_figure(result: NeighbourResult, title: str | None = None) -> Any:
    """A plotly horizontal bar chart of the neighbours (most similar at the top)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if result.ok:
        words = [w for w, _ in result.neighbours][::-1]
        sims = [s for _, s in result.neighbours][::-1]
        fig.add_trace(go.Bar(x=sims, y=words, orientation="h", text=[f"{s:.2f}" for s in sims]))
        fig.update_xaxes(title="cosine similarity", range=[min(0.0, min(sims, default=0.0)), 1.0])
    else:
        fig.add_annotation(text=result.error, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title or f"nearest to '{result.query}'", height=80 + 28 * max(4, len(result.neighbours)),
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def neighbours_html(result: NeighbourResult, bar_px: int = 220) -> str:
    """The neighbours as an HTML table with one bar per cosine (plain HTML and CSS), or the error."""
    if not result.ok:
        hints = "".join(
            f"<li>did you mean {', '.join(f'<code>{html.escape(c)}</code>' for c in close)} "
            f"for <code>{html.escape(word)}</code>?</li>"
            for word, close in result.suggestions.items() if close
        )
        return f"<p><b>{html.escape(result.error)}</b></p>" + (f"<ul>{hints}</ul>" if hints else "")
    rows = []
    for rank, (word, sim) in enumerate(result.neighbours, 1):
        width = round(max(0.0, min(1.0, sim)) * bar_px)
        bar = f"<div style='background:#4c78a8;height:0.8em;width:{width}px'></div>"
        rows.append(f"<tr><td>{rank}</td><td><b>{html.escape(word)}</b></td><td>{bar}</td><td>{sim:.3f}</td></tr>")
    head = "<tr><th>#</th><th>word</th><th>cosine</th><th></th></tr>"
    return (f"<p>Nearest to <code>{html.escape(result.query)}</code>:</p>"
            f"<table>{head}{''.join(rows)}</table>")


# --------------------------------------------------------------------------------------
# 3-D projection


@dataclass
class PCAResult:
    """Coordinates of each row on the top principal components."""

    coords: np.ndarray  # (n, k)
    components: np.ndarray  # (k, d)
    explained_variance_ratio: np.ndarray  # (k,)
    mean: np.ndarray  # (d,)


def pca_project(vectors: np.ndarray, n_components: int = 3) -> PCAResult:
    """PCA by SVD of the centred rows, signs fixed so each component's largest loading is positive.

    Equal to scikit-learn's ``PCA(n_components).fit_transform`` up to the sign of each
    component (sign is arbitrary in PCA; the tests compare ``|coords|``).
    """
    x = np.asarray(vectors, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array (n, d), got shape {x.shape}")
    if not 1 <= n_components <= min(x.shape):
        raise ValueError(f"n_components must be in 1..{min(x.shape)} for shape {x.shape}, got {n_components}")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    vt = vt[:n_components]
    signs = np.sign(vt[np.arange(n_components), np.abs(vt).argmax(axis=1)])
    vt = vt * signs[:, None]
    variance = s**2
    return PCAResult((x - mean) @ vt.T, vt, variance[:n_components] / variance.sum(), mean)


def projection_figure(
    kv: Any, groups: Mapping[str, Sequence[str]], title: str = ""
) -> tuple[Any, PCAResult, list[str]]:
    """A plotly 3-D scatter of the words in ``groups`` (``{group: words}``), PCA of unit vectors.

    Words missing from the vocabulary are skipped. Returns ``(figure, pca, words shown)``.
    """
    import plotly.graph_objects as go

    shown = [(g, w) for g, words in groups.items() for w in words if w in kv.key_to_index]
    if len(shown) < 4:
        raise ValueError(f"need at least 4 words in the vocabulary to project, found {len(shown)}")
    words = [w for _, w in shown]
    pca = pca_project(np.stack([kv.get_vector(w, norm=True) for w in words]), 3)
    fig = go.Figure()
    for group in groups:
        idx = [i for i, (g, _) in enumerate(shown) if g == group]
        if idx:
            xyz = pca.coords[idx]
            fig.add_trace(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers+text",
                                       text=[words[i] for i in idx], name=group, marker=dict(size=4)))
    evr = pca.explained_variance_ratio
    fig.update_layout(
        title=title or f"PCA of {len(words)} word vectors ({evr.sum():.0%} of their variance shown)",
        scene=dict(xaxis_title=f"PC1 {evr[0]:.0%}", yaxis_title=f"PC2 {evr[1]:.0%}", zaxis_title=f"PC3 {evr[2]:.0%}"),
        height=600, margin=dict(l=0, r=0, t=40, b=0),
    )
    return fig, pca, words


def explorer_widget(models: Mapping[str, Any], query: str = "film", topn: int = 10) -> Any:
    """An ipywidgets explorer: pick a model, type a query, see the neighbours as a bar table.

    The callback only calls :func:`nearest_neighbours` and :func:`neighbours_html` and
    sets an ``HTML`` widget's value. Returns the ``VBox``; its ``.run(query)`` method runs
    a query as if typed and returns the :class:`NeighbourResult`.
    """
    import ipywidgets as widgets

    if not models:
        raise ValueError("give at least one model: {'name': KeyedVectors}")
    box = widgets.Text(value=query, description="query", continuous_update=False)
    which = widgets.Dropdown(options=list(models), description="model")
    how_many = widgets.IntSlider(value=topn, min=3, max=25, description="neighbours")
    view = widgets.HTML()
    latest: dict[str, NeighbourResult] = {}

    def refresh(_change: Any = None) -> NeighbourResult:
        result = latest["result"] = nearest_neighbours(models[which.value], box.value, how_many.value)
        view.value = neighbours_html(result)
        return result

    for control in (box, which, how_many):
        control.observe(refresh, names="value")
    ui = widgets.VBox([widgets.HBox([box, which, how_many]), view])

    def run(text: str) -> NeighbourResult:
        if box.value == text:
            return refresh()
        box.value = text  # the observer refreshes
        return latest["result"]

    ui.run = run  # type: ignore[attr-defined]
    refresh()
    return ui
