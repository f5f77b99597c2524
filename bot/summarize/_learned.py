"""The learned sentence scorer behind the `default` algorithm.

Each candidate sentence gets a row of language-independent features (below), normalised within
its article; a logistic model fitted on 6,000 OrangeSum articles (`bench/train_scorer.py`)
turns the row into a score; the best-scoring sentences are picked with a redundancy filter and
returned in document order by the caller. The model's weights are package data
(`scorer_weights.json`, a few kilobytes), read once per process: no network, no download.

Why hand-written rather than scikit-learn: the model is one dot product per sentence, and numpy
(which sumy already needs) does it; a new dependency of tens of megabytes for that would buy
nothing. The fit itself (Newton's method on the log-loss) lives in the training script.

Features depend only on what the pipeline already has (the candidates and the title)
and on stems from the language's stemmer, so the model trained on French applies to every
supported language.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from bot.errors import SummaryError
from bot.summarize._clean import Prepared, content_words
from bot.summarize._languages import stemmer, stop_words
from bot.summarize._tokenize import words

WEIGHTS_FILE = "scorer_weights.json"

# Sentences are cut to this many words for the similarity features, so one run-on "sentence"
# cannot dominate the cost.
_MAX_WORDS_FEATURED = 80
# A pick more similar than this (TF-IDF cosine) to one already chosen says the same thing: it
# is ranked after every other sentence rather than kept.
MAX_REDUNDANCY = 0.5
# Greedy picks beyond the count asked for, as substitutes when one does not fit the budget.
_SPARE_PICKS = 5
# At the default length (a word budget, at most DEFAULT_SENTENCES sentences), the summary is
# chosen whole: every combination of one to `count` of the best _CHOICES picks that fits the
# budget is scored by a second linear model (SUMMARY_FEATURES: how far its sentences score below
# the best, how many, how much of the budget, how similar to each other), fitted by
# `bench/train_scorer.py` to the ROUGE of each combination on training articles. It replaced a
# fixed rule (leave out a sentence more than 1.0 below the best): R1 +0.3, R2 +0.2, RL +0.3 on
# held-out training articles.
_CHOICES = 5
# ... except in English, whose news highlights run longer: the English dev set (long reference
# extracts) loses to its first three sentences when summaries stop early, so English summaries
# fill their budget.
FILLS_BUDGET = frozenset({"en"})


class Ranking(list[int]):
    """Candidate positions, best first, with what `within` needs to choose a whole summary."""

    def __init__(
        self,
        order: Sequence[int],
        scores: Any = None,
        similarity: Any = None,
        lengths: Sequence[int] = (),
        fills: bool = True,
    ) -> None:
        super().__init__(order)
        self.scores = scores
        self.similarity = similarity
        self.lengths = list(lengths)
        self.fills = fills

    def within(self, budget: int, count: int) -> list[int]:
        """The sentences of the best summary of at most `count` within `budget` words, best
        first; the whole ranking when the language fills its budget or one sentence is asked."""
        if self.fills or count < 2 or self.scores is None:
            return self
        chosen = choose(
            self, self.scores, self.similarity, self.lengths, count, budget, shipped_scorer()
        )
        return sorted(chosen, key=self.index)


_QUOTES = frozenset('«»"“”„')
_WORD = re.compile(r"[^\W\d_]+")
_DIGIT_TOKEN = re.compile(r"\S*\d\S*")

# The feature names, in the order of a row; `features()` computes a column for each name, and
# loading refuses a weights file whose names differ.
# No paragraph feature: the training texts have no paragraph breaks, so a weight learned for
# "first of its paragraph" would only copy the first sentence's and misfire on feed articles.
FEATURES: tuple[str, ...] = (
    "bias",
    "position_inverse",  # 1 / (1 + i)
    "position_relative",  # i / (n - 1)
    "position_0",  # one-hot positions: news is written top-down, but not linearly so
    "position_1",
    "position_2",
    "position_3_5",
    "words_log",  # log of the word count
    "words_relative",  # word count / the article's mean
    "words_under_12",
    "words_12_20",
    "words_30_40",
    "words_over_40",
    "title_cosine",  # TF-IDF cosine with the title
    "title_cosine_relative",  # ... divided by the article's best
    "title_best",  # the article's most title-like sentence
    "title_coverage",  # share of the title's content stems in the sentence
    "title_density",  # title stems per content stem of the sentence
    "title_names",  # capitalised words shared with the title, over the title's
    "centroid_cosine",  # TF-IDF cosine with the article's centroid
    "centroid_relative",
    "centroid_best",
    "lead_cosine",  # TF-IDF cosine with the first three sentences (others than itself)
    "degree",  # mean similarity to the other sentences, divided by the article's best
    "frequency",  # mean share of sentences containing each of its stems (SumBasic's idea)
    "quote",  # has a quotation mark
    "starts_with_quote",
    "digits",  # share of tokens with a digit
    "capitalised",  # share of words (after the first) that are capitalised
    "question",  # ends with ? or !
    "colon",  # has a colon (a list or a quotation follows)
    "first_x_title",  # position_inverse * title_cosine_relative
    "title_x_centroid",  # title_cosine_relative * centroid_relative
)

# The features of a whole summary (a combination of picks), in the order of its row; the
# summary model's weights follow them.
SUMMARY_FEATURES: tuple[str, ...] = (
    "gap_sum",  # sum over its sentences of (score - the best pick's score)
    "gap_min",  # the lowest of those
    "gap_mean",
    "sentences_1",  # one-hot sentence count
    "sentences_2",
    "sentences_3",
    "words",  # its words / the budget
    "words_2",  # ... squared
    "words_3",  # ... cubed
    "has_best",  # has the best pick
    "similarity",  # the highest TF-IDF cosine between two of its sentences
    "has_first",  # has the article's first candidate
    "gap_sum_x_words",
    "gap_min_x_words",
    "similarity_x_words",
)


@dataclass(frozen=True, slots=True)
class Scorer:
    """Weights of the logistic model, with the feature standardisation they were fitted on."""

    weights: Any  # float array, one per feature
    mean: Any
    scale: Any
    summary_weights: Any  # float array, one per summary feature

    def score(self, rows: Any) -> Any:
        """The model's logit for each row of features."""
        return _product("ij,j->i", (rows - self.mean) / self.scale, self.weights)


def scorer_from_json(data: dict[str, Any]) -> Scorer:
    """A Scorer from the weights file's content; SummaryError when it does not fit FEATURES."""
    names = tuple(data.get("features", ()))
    if names != FEATURES:
        raise SummaryError(
            f"{WEIGHTS_FILE} was trained on other features; retrain with bench/train_scorer.py"
        )
    weights = np.array(data["weights"], dtype=float)
    mean = np.array(data["mean"], dtype=float)
    scale = np.array(data["scale"], dtype=float)
    if tuple(data.get("summary_features", ())) != SUMMARY_FEATURES:
        raise SummaryError(
            f"{WEIGHTS_FILE} has no model for the summary features; retrain with "
            "bench/train_scorer.py"
        )
    summary = np.array(data["summary_weights"], dtype=float)
    return Scorer(weights, mean, np.where(scale > 0, scale, 1.0), summary)


@cache
def shipped_scorer() -> Scorer:
    """The model shipped in the package (read once per process)."""
    text = resources.files(__package__).joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return scorer_from_json(json.loads(text))


@dataclass(frozen=True, slots=True)
class Featured:
    """An article's feature rows and the sentence similarities selection needs."""

    rows: Any  # (n, len(FEATURES))
    similarity: Any  # (n, n) TF-IDF cosine, zero diagonal


def _stems(tokens: Sequence[str], code: str) -> list[str]:
    stem = stemmer(code)
    stops = stop_words(code)
    return [stem(w) for w in tokens[:_MAX_WORDS_FEATURED] if len(w) > 1 and w not in stops]


def _tfidf(bags: Sequence[Sequence[str]], extra: Sequence[str]) -> tuple[Any, Any]:
    """Row-normalised TF-IDF matrix of the sentences, and the unit vector of `extra`."""
    vocabulary: dict[str, int] = {}
    for bag in bags:
        for term in bag:
            vocabulary.setdefault(term, len(vocabulary))
    n = len(bags)
    matrix = np.zeros((n, max(len(vocabulary), 1)))
    for row, bag in enumerate(bags):
        for term, count in Counter(bag).items():
            matrix[row, vocabulary[term]] = 1.0 + math.log(count)
    df = np.count_nonzero(matrix, axis=0)
    idf = np.log((n + 1) / (df + 1)) + 1.0
    matrix *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms == 0, 1.0, norms)
    title = np.zeros(matrix.shape[1])
    for term in extra:
        index = vocabulary.get(term)
        if index is not None:
            title[index] = idf[index]
    title_norm = math.sqrt(float((title * title).sum()))
    if title_norm:
        title /= title_norm
    return matrix, title


def _product(subscripts: str, *operands: Any) -> Any:
    """A matrix product without BLAS: numpy's `@` hands even a 40 x 600 product to OpenBLAS,
    whose threads, on a busy two-core machine, made the features cost 40 ms instead of 2;
    `einsum` without `optimize` runs its own loop in the calling thread."""
    return np.einsum(subscripts, *operands, optimize=False)


def _relative(values: Any) -> Any:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def features(prepared: Prepared, code: str) -> Featured:
    """The feature rows of an article's candidates (see FEATURES), and their similarities."""
    candidates = prepared.candidates
    n = len(candidates)
    bags = [_stems(c.words, code) for c in candidates]
    title_stems: list[str] = []
    title_names: set[str] = set()
    if prepared.title:
        stem = stemmer(code)
        title_stems = sorted({stem(w) for w in content_words(words(prepared.title, code), code)})
        title_names = _names(prepared.title)
    matrix, title = _tfidf(bags, title_stems)
    similarity = _product("ik,jk->ij", matrix, matrix)
    np.fill_diagonal(similarity, 0.0)
    centroid = matrix.sum(axis=0)
    centroid_norm = math.sqrt(float((centroid * centroid).sum()))
    centroid_cosine = (
        _product("ik,k->i", matrix, centroid / centroid_norm) if centroid_norm else np.zeros(n)
    )
    lead = similarity[:, :3].sum(axis=1) / np.where(np.arange(n) < 3, max(min(n, 3) - 1, 1), 3)
    title_cosine = _product("ik,k->i", matrix, title)
    title_set = set(title_stems)
    document_frequency: Counter[str] = Counter()
    for bag in bags:
        document_frequency.update(set(bag))

    index = np.arange(n, dtype=float)
    lengths = np.array([len(c.words) for c in candidates], dtype=float)
    column: dict[str, Any] = {
        "bias": np.ones(n),
        "position_inverse": 1.0 / (1.0 + index),
        "position_relative": index / max(n - 1, 1),
        "position_0": index == 0,
        "position_1": index == 1,
        "position_2": index == 2,
        "position_3_5": (index >= 3) & (index <= 5),
        "words_log": np.log(lengths),
        "words_relative": lengths / lengths.mean(),
        "words_under_12": lengths < 12,
        "words_12_20": (lengths >= 12) & (lengths < 20),
        "words_30_40": (lengths >= 30) & (lengths < 40),
        "words_over_40": lengths >= 40,
        "title_cosine": title_cosine,
        "title_cosine_relative": _relative(title_cosine),
        "title_best": _is_best(title_cosine),
        "centroid_cosine": centroid_cosine,
        "centroid_relative": _relative(centroid_cosine),
        "centroid_best": _is_best(centroid_cosine),
        "lead_cosine": lead,
        "degree": _relative(similarity.sum(axis=1) / max(n - 1, 1)),
    }
    per_sentence = np.zeros((n, 10))
    for i, candidate in enumerate(candidates):
        text = candidate.text
        tokens = text.split()
        bag = bags[i]
        shared = len(title_set.intersection(bag))
        names = _names(text)
        per_sentence[i] = (
            shared / len(title_set) if title_set else 0.0,
            shared / len(bag) if bag else 0.0,
            len(title_names & names) / len(title_names) if title_names else 0.0,
            sum(document_frequency[t] for t in bag) / (len(bag) * n) if bag else 0.0,
            any(ch in _QUOTES for ch in text),
            text[0] in _QUOTES or text[0] == "-",
            len(_DIGIT_TOKEN.findall(text)) / len(tokens),
            len(names) / max(len(tokens) - 1, 1),
            text.rstrip(' »"”)')[-1:] in ("?", "!"),
            ":" in text,
        )
    for number, name in enumerate(
        (
            "title_coverage",
            "title_density",
            "title_names",
            "frequency",
            "quote",
            "starts_with_quote",
            "digits",
            "capitalised",
            "question",
            "colon",
        )
    ):
        column[name] = per_sentence[:, number]
    column["first_x_title"] = column["position_inverse"] * column["title_cosine_relative"]
    column["title_x_centroid"] = column["title_cosine_relative"] * column["centroid_relative"]
    rows = np.column_stack([np.asarray(column[name], dtype=float) for name in FEATURES])
    return Featured(rows, similarity)


def _names(text: str) -> set[str]:
    """Capitalised words after the first (names, mostly), lowercased."""
    return {w.lower() for w in _WORD.findall(text)[1:] if w[0].isupper()}


def _is_best(values: Any) -> Any:
    best = np.zeros(len(values))
    if len(values) and values.max() > 0:
        best[int(values.argmax())] = 1.0
    return best


def pick(scores: Any, similarity: Any, count: int) -> list[int]:
    """Candidate positions, best first: greedy by score, a repeat of a pick ranked last."""
    n = len(scores)
    order: list[int] = []
    redundant: list[int] = []
    redundancy = np.zeros(n)
    for best in np.argsort(-scores, kind="stable"):
        best = int(best)
        if redundancy[best] > MAX_REDUNDANCY:
            redundant.append(best)
            continue
        order.append(best)
        if len(order) < count + _SPARE_PICKS:
            redundancy = np.maximum(redundancy, similarity[best])
    return order + redundant


def summary_options(
    order: Sequence[int],
    scores: Any,
    similarity: Any,
    lengths: Sequence[int],
    count: int,
    budget: int,
) -> tuple[list[tuple[int, ...]], Any]:
    """The combinations of one to `count` of the first _CHOICES picks of `order` that fit
    `budget` words (a single sentence always does), and a row of SUMMARY_FEATURES for each."""
    picks = list(order[:_CHOICES])
    best = float(scores[picks[0]])
    options: list[tuple[int, ...]] = []
    rows: list[tuple[float, ...]] = []
    for size in range(1, min(count, len(picks)) + 1):
        for combination in itertools.combinations(picks, size):
            used = sum(lengths[i] for i in combination)
            if size > 1 and used > budget:
                continue
            gaps = [float(scores[i]) - best for i in combination]
            similar = max(
                (float(similarity[a, b]) for a, b in itertools.combinations(combination, 2)),
                default=0.0,
            )
            share = used / budget
            options.append(combination)
            rows.append(
                (
                    sum(gaps),
                    min(gaps),
                    sum(gaps) / size,
                    size == 1,
                    size == 2,
                    size == 3,
                    share,
                    share**2,
                    share**3,
                    picks[0] in combination,
                    similar,
                    0 in combination,
                    sum(gaps) * share,
                    min(gaps) * share,
                    similar * share,
                )
            )
    return options, np.array(rows, dtype=float)


def choose(
    order: Sequence[int],
    scores: Any,
    similarity: Any,
    lengths: Sequence[int],
    count: int,
    budget: int,
    scorer: Scorer,
) -> tuple[int, ...]:
    """The combination of `summary_options` the summary model scores best."""
    options, rows = summary_options(order, scores, similarity, lengths, count, budget)
    values = _product("ij,j->i", rows, scorer.summary_weights)
    return options[int(np.argmax(values))]


def rank(prepared: Prepared, code: str, count: int) -> list[int]:
    """The `default` ranking: the shipped model's scores, picked without repeats."""
    if len(prepared.candidates) < 2:
        return Ranking([0])
    featured = features(prepared, code)
    scores = shipped_scorer().score(featured.rows)
    return Ranking(
        pick(scores, featured.similarity, count),
        scores,
        featured.similarity,
        [len(c.words) for c in prepared.candidates],
        fills=code in FILLS_BUDGET,
    )
