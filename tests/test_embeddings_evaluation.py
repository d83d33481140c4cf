"""Evaluation (Spearman, analogies, coverage), export to KeyedVectors, and the explorer."""

from __future__ import annotations

import numpy as np
import pytest

from slm_helpers import data
from slm_helpers.embeddings import evaluation as V
from slm_helpers.embeddings import explorer as X
from slm_helpers.embeddings.vectors import load_word2vec_text, save_word2vec_text, to_keyed_vectors


def test_spearman_equals_scipy_with_ties():
    from scipy.stats import rankdata, spearmanr

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
    assert np.allclose(V.rankdata(a), rankdata(a))
    assert np.isclose(V.spearman_rho(a, b), spearmanr(a, b).statistic)
    assert np.isnan(V.spearman_rho([1.0, 2.0], [2.0, 1.0]))
    with pytest.raises(ValueError, match="same length"):
        V.spearman_rho([1, 2, 3], [1, 2])


def _random_kv(words, dim: int = 16, seed: int = 0):
    return to_keyed_vectors(list(words), np.random.default_rng(seed).normal(size=(len(words), dim)))


def test_keyed_vectors_have_exactly_our_rows():
    vectors = np.arange(12, dtype=float).reshape(4, 3)
    kv = to_keyed_vectors(["a", "b", "c", "d"], vectors)
    assert kv.index_to_key == ["a", "b", "c", "d"] and kv.vectors.shape == (4, 3)
    assert np.allclose(kv["c"], vectors[2])
    with pytest.raises(ValueError, match="shape"):
        to_keyed_vectors(["a"], vectors)
    with pytest.raises(ValueError, match="white space"):
        to_keyed_vectors(["a b", "c", "d", "e"], vectors)


def test_word2vec_text_round_trip(tmp_path):
    words = ["king", "queen", "don't"]
    vectors = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    path = save_word2vec_text(tmp_path / "v.txt", words, vectors)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "3 5"
    kv = load_word2vec_text(path)
    assert kv.index_to_key == words
    assert np.max(np.abs(kv.vectors - vectors)) < 1e-5


def test_similarity_equals_gensim_and_reports_coverage():
    ws = data.load("wordsim353")
    words = sorted({w for pair in ws.pairs[:200] for w in pair})
    kv = _random_kv(words)
    ours = V.evaluate_similarity(kv, ws)
    pearson, spearman, oov_percent = kv.evaluate_word_pairs(ws.path)
    assert np.isclose(ours.rho, spearman.statistic, atol=1e-6)
    assert np.isclose(100 * (1 - ours.coverage), oov_percent)
    assert ours.n_pairs == 353 and 180 <= ours.n_covered < 353
    assert "coverage" in str(ours) and "ρ" in str(ours)
    pairs_only = V.evaluate_similarity(kv, ws.pairs, ws.scores)
    assert np.isclose(pairs_only.rho, ours.rho)
    with pytest.raises(ValueError, match="scores"):
        V.evaluate_similarity(kv, ws.pairs)


def _analogy_kv():
    """Vectors where country → capital is one shared offset, so 3CosAdd gets it right."""
    rng = np.random.default_rng(2)
    countries = ["france", "italy", "japan", "spain", "egypt"]
    capitals = ["paris", "rome", "tokyo", "madrid", "cairo"]
    offset = rng.normal(size=20)
    rows = {c: rng.normal(size=20) for c in countries}
    for country, capital in zip(countries, capitals, strict=True):
        rows[capital] = rows[country] + offset + 0.05 * rng.normal(size=20)
    rows.update({f"noise{i}": rng.normal(size=20) for i in range(30)})
    return to_keyed_vectors(list(rows), np.stack(list(rows.values()))), countries, capitals


def test_analogies_equal_gensim(tmp_path):
    kv, countries, capitals = _analogy_kv()
    questions = [(capitals[i], countries[i], capitals[j], countries[j])
                 for i in range(5) for j in range(5) if i != j]
    questions += [("paris", "france", "rome", "nowhere")]  # not covered
    sections = {"capital-common-countries": questions, "family": [("king", "queen", "man", "woman")]}
    path = tmp_path / "questions.txt"
    lines = []
    for name, qs in sections.items():
        lines.append(f": {name}")
        lines += [" ".join(q) for q in qs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ours = V.evaluate_analogies(kv, sections)
    score, gensim_sections = kv.evaluate_word_analogies(str(path))
    assert np.isclose(ours.accuracy, score)
    assert ours.n_correct == len(gensim_sections[-1]["correct"])
    assert ours.n_covered == 20 and ours.n_questions == 22 and np.isclose(ours.coverage, 20 / 22)
    assert ours.sections["family"] == (0, 0, 1)
    assert ours.accuracy > 0.9
    assert "capital-common-countries" in ours.section_table()
    assert V.analogy_predictions(kv, [("france", "paris", "italy")]) == ["rome"]
    top = kv.most_similar(positive=["paris", "italy"], negative=["france"], topn=1)[0][0]
    assert top == "rome"


def test_evaluate_all_and_table():
    benchmarks = V.load_benchmarks()
    words = sorted({w for pair in benchmarks.wordsim353.pairs for w in pair})
    ev = V.evaluate_all(_random_kv(words), benchmarks, "random")
    assert ev.wordsim353.coverage == 1.0 and ev.simlex999.coverage < 1.0
    assert abs(ev.wordsim353.rho) < 0.2, "random vectors should not correlate with people"
    table = V.format_table([ev.row()])
    assert table.startswith("| model |") and "100%" in table and "random" in table
    with pytest.raises(ValueError, match="no rows"):
        V.format_table([])


# ---------------------------------------------------------------- explorer


def test_parse_query():
    assert X.parse_query("Film") == (["film"], [])
    assert X.parse_query("king - man + woman") == (["king", "woman"], ["man"])
    assert X.parse_query("king-man+woman") == (["king", "woman"], ["man"])
    assert X.parse_query("  paris  rome ") == (["paris", "rome"], [])
    for bad, message in (("", "type a word"), ("king -", "ends with"), ("- man", "no positive"),
                         ("a + - b", "two operators")):
        with pytest.raises(ValueError, match=message):
            X.parse_query(bad)


def test_nearest_neighbours_and_errors():
    kv, _, _ = _analogy_kv()
    result = X.nearest_neighbours(kv, "paris - france + italy", topn=3)
    assert result.ok and result.neighbours[0][0] == "rome" and len(result.neighbours) == 3
    assert result.neighbours == [(w, pytest.approx(s)) for w, s in
                                 kv.most_similar(positive=["paris", "italy"], negative=["france"], topn=3)]
    assert "| 1 | rome |" in result.markdown()
    missing = X.nearest_neighbours(kv, "pariss")
    assert not missing.ok and "pariss" in missing.error and missing.suggestions["pariss"][0] == "paris"
    assert "did you mean" in missing.markdown()
    assert not X.nearest_neighbours(kv, "+").ok
    with pytest.raises(ValueError, match="topn"):
        X.nearest_neighbours(kv, "paris", topn=0)


def test_neighbours_figure():
    kv, _, _ = _analogy_kv()
    fig = X.neighbours_figure(X.nearest_neighbours(kv, "tokyo", topn=5))
    assert len(fig.data) == 1 and len(fig.data[0].y) == 5 and fig.data[0].orientation == "h"
    empty = X.neighbours_figure(X.nearest_neighbours(kv, "zzz"))
    assert len(empty.data) == 0 and "zzz" in empty.layout.annotations[0].text


def test_pca_equals_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(3).normal(size=(30, 8)) @ np.diag([5, 4, 3, 1, 1, 1, 0.5, 0.1])
    ours = X.pca_project(x, 3)
    theirs = PCA(3).fit(x)
    assert np.allclose(np.abs(ours.coords), np.abs(theirs.transform(x)), atol=1e-8)
    assert np.allclose(ours.explained_variance_ratio, theirs.explained_variance_ratio_)
    with pytest.raises(ValueError, match="n_components"):
        X.pca_project(x, 9)


def test_projection_figure_skips_unknown_words():
    kv, countries, capitals = _analogy_kv()
    fig, pca, shown = X.projection_figure(kv, {"countries": countries + ["atlantis"], "capitals": capitals})
    assert "atlantis" not in shown and len(shown) == 10 and pca.coords.shape == (10, 3)
    assert [t.name for t in fig.data] == ["countries", "capitals"]
    with pytest.raises(ValueError, match="at least 4"):
        X.projection_figure(kv, {"few": ["paris", "zzz"]})


def test_neighbours_html():
    kv, _, _ = _analogy_kv()
    page = X.neighbours_html(X.nearest_neighbours(kv, "paris - france + italy", topn=4))
    assert page.count("<tr>") == 5 and "<b>rome</b>" in page and "<script" not in page
    error = X.neighbours_html(X.nearest_neighbours(kv, "pariss <b>"))
    assert "did you mean" in error and "<code>paris</code>" in error and "&lt;b&gt;" in error


def test_explorer_widget_runs_queries():
    pytest.importorskip("ipywidgets")
    kv, _, _ = _analogy_kv()
    ui = X.explorer_widget({"toy": kv}, query="paris")
    view = ui.children[1]
    assert "paris" in view.value
    result = ui.run("paris - france + japan")
    assert result.ok and result.neighbours[0][0] == "tokyo" and "<b>tokyo</b>" in view.value
    assert not ui.run("nowhere").ok and "not in the vocabulary" in view.value
    assert ui.run("nowhere").error  # the same query again still answers
    with pytest.raises(ValueError, match="at least one model"):
        X.explorer_widget({})
