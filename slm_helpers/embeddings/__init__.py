"""Word vectors for lessons 02 (Word2Vec) and 03 (GloVe): the tested versions.

- :mod:`.corpus` the course corpus, tokenizer, vocabulary and integer encoding;
- :mod:`.sgns` skip-gram with negative sampling in NumPy (the teaching reference);
- :mod:`.word2vec` gensim 4 ``Word2Vec`` with course defaults;
- :mod:`.cooccurrence` GloVe's distance-weighted co-occurrence counts (sparse);
- :mod:`.glove` the GloVe objective, its gradient and AdaGrad training;
- :mod:`.ppmi` the count-based baseline on the same counts: PPMI, then a truncated SVD;
- :mod:`.vectors` export to the word2vec text format and gensim ``KeyedVectors``;
- :mod:`.evaluation` Spearman ρ and analogy accuracy, always with coverage;
- :mod:`.explorer` the plain functions behind the nearest-neighbour explorer and 3-D plot.

Only NumPy is imported here; gensim, SciPy, plotly and scikit-learn load inside the
functions that need them.
"""

from __future__ import annotations

from .cooccurrence import cooccurrence_matrix
from .corpus import (
    SOURCES,
    CourseCorpus,
    Vocabulary,
    build_course_corpus,
    build_vocabulary,
    encode_sentences,
    load_course_corpus,
    tokenize,
)
from .evaluation import (
    AnalogyResult,
    Benchmarks,
    Evaluation,
    SimilarityResult,
    analogy_predictions,
    evaluate_all,
    evaluate_analogies,
    evaluate_similarity,
    format_table,
    load_benchmarks,
    spearman_rho,
)
from .glove import (
    GloVeParams,
    GloVeResult,
    glove_loss,
    glove_loss_and_grads,
    glove_weight,
    train_glove,
)
from .ppmi import ppmi_matrix, ppmi_svd_vectors
from .sgns import (
    keep_probability,
    noise_distribution,
    sgns_batch_loss_and_grads,
    sgns_pair_loss_and_grads,
    skipgram_pairs,
    train_sgns,
)
from .vectors import load_word2vec_text, save_word2vec_text, to_keyed_vectors
from .word2vec import train_word2vec

__all__ = [
    "SOURCES", "AnalogyResult", "Benchmarks", "CourseCorpus", "Evaluation", "GloVeParams",
    "GloVeResult", "SimilarityResult", "Vocabulary", "analogy_predictions",
    "build_course_corpus", "build_vocabulary", "cooccurrence_matrix", "encode_sentences",
    "evaluate_all", "evaluate_analogies", "evaluate_similarity", "format_table",
    "glove_loss", "glove_loss_and_grads", "glove_weight", "keep_probability",
    "load_benchmarks", "load_course_corpus", "load_word2vec_text", "noise_distribution",
    "ppmi_matrix", "ppmi_svd_vectors",
    "save_word2vec_text", "sgns_batch_loss_and_grads", "sgns_pair_loss_and_grads",
    "skipgram_pairs", "spearman_rho", "to_keyed_vectors", "tokenize", "train_glove", "train_sgns",
    "train_word2vec",
]
