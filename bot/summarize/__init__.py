"""Offline extractive summaries: text in, a few of its own sentences out.

    summarize(text, title=..., algorithm="default", sentences=3)  -> ["...", "...", "..."]
    summarize_or_none(text, title, language, ...)                 -> ("...", ...) or None

The pipeline is the same for every algorithm:

1. check the input is text (SummaryError otherwise) and settle the language: the one given,
   else py3langid's guess when we support it, else `default_language`;
2. cut the title and byline off the top, split into sentences, drop boilerplate, fragments
   under five words and repeated sentences (`_clean`);
3. rank the candidates with the chosen algorithm (`_algorithms`: our `default`, a scorer
   learned from news abstracts (`_learned`, weights in `scorer_weights.json`, retrained by
   `bench/train_scorer.py`), `lead`, and sumy's LexRank, TextRank, LSA, Luhn, SumBasic,
   KL-Sum and Edmundson);
4. keep the best ones, whole, that fit the word budget (`word_budget`) and `max_chars`, in
   document order.

No network, no NLTK data: sentences come from `sentence-splitter` plus our rules (`_tokenize`),
stemmers and stop words from sumy. Functions are synchronous and keep no mutable state between
calls, so the bot runs them in worker threads.
"""

from __future__ import annotations

import math
from typing import Final, Literal

from bot.errors import SummaryError
from bot.summarize import _tokenize
from bot.summarize._algorithms import ALGORITHMS as _REGISTRY
from bot.summarize._clean import Prepared, check_is_text, prepare
from bot.summarize._languages import SUPPORTED, normalize_language
from bot.summarize._languages import detect_language as _detect
from bot.summarize._learned import Ranking

__all__ = [
    "ALGORITHMS",
    "AUTO",
    "DEFAULT_ALGORITHM",
    "DEFAULT_MAX_WORDS",
    "DEFAULT_SENTENCES",
    "algorithm_descriptions",
    "detect_language",
    "length_key",
    "split_sentences",
    "summarize",
    "summarize_or_none",
    "supported_languages",
    "word_budget",
]

ALGORITHMS: tuple[str, ...] = tuple(_REGISTRY)
DEFAULT_ALGORITHM = "default"
# The default length: at most DEFAULT_SENTENCES sentences, within a word budget of
# `word_budget(sentences, language)` words (DEFAULT_MAX_WORDS for French). Whole sentences are
# kept, best first, while they fit, and the best one always is. French abstracts run about 30
# words and the best extracts 45-50, so three long sentences cost score and reading time: the
# budget was chosen on 1,000 held-out training articles (bench/train_scorer.py prints the
# trade-off). English news highlights run longer, and the English dev set (bbc-dev-en) needs
# about 80 words to beat its first three sentences: see README, "Summaries".
DEFAULT_SENTENCES = 3
_WORDS_PER_SENTENCE = 20
_WORDS_PER_SENTENCE_BY_LANGUAGE = {"en": 27}
DEFAULT_MAX_WORDS = DEFAULT_SENTENCES * _WORDS_PER_SENTENCE
# `summarize(max_words=AUTO)`: the budget of `word_budget` for the text's language.
AUTO: Final = "auto"

_ELLIPSIS = "…"


def algorithm_descriptions() -> list[tuple[str, str]]:
    """(name, one line saying what it does) of each algorithm, in the order of ALGORITHMS."""
    return [(a.name, a.doc) for a in _REGISTRY.values()]


def length_key(sentences: int | None, ratio: float | None) -> str:
    """How a summary's length is spelled where summaries are cached: "3w" for at most three
    sentences within their word budget, "10%" for a ratio."""
    if ratio is not None:
        return f"{round(ratio * 100, 2):g}%"
    return f"{sentences}w"


def word_budget(sentences: int, language: str | None = None) -> int:
    """The words a summary of at most `sentences` sentences may use in `language` (an ISO
    639-1 code; None for the general figure): 20 a sentence, 27 in English."""
    code = (language or "").split("-")[0].lower()
    return sentences * _WORDS_PER_SENTENCE_BY_LANGUAGE.get(code, _WORDS_PER_SENTENCE)


def supported_languages() -> tuple[str, ...]:
    """ISO 639-1 codes we can summarize: sumy has stop words and a stemmer, and the sentence
    splitter has rules, for each of them."""
    return SUPPORTED


def detect_language(text: str) -> str | None:
    """The language of `text` as an ISO 639-1 code ("fr", "en", ...), or None when unsure.

    Any language py3langid knows may be returned, including ones `summarize` does not support.
    """
    return _detect(text)


def split_sentences(text: str, language: str = "fr") -> list[str]:
    """The sentences of `text`, in order, as the summarizer sees them before cleaning."""
    return _tokenize.split_sentences(text, language)


def summarize(
    text: str,
    *,
    title: str | None = None,
    language: str | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
    sentences: int = DEFAULT_SENTENCES,
    ratio: float | None = None,
    max_words: int | Literal["auto"] | None = AUTO,
    max_chars: int = 3500,
    default_language: str = "fr",
) -> list[str]:
    """Pick the sentences of `text` that best summarize it, in document order.

    `ratio` (0 < r <= 1), when given, asks for that share of the article's sentences instead of
    a fixed count (at least one). `max_words` caps the words of the summary: whole sentences
    are kept, best first, while they fit (the best one always is); AUTO (the default) is
    `word_budget(sentences, language)`, and None or a ratio means no cap. The result never
    totals more than `max_chars` characters, counting one separator between sentences, so it
    fits a Telegram message with a header; a single sentence longer than that is cut at a word
    and ends with "…". The title and byline never appear in the result.

    Raises SummaryError for an unknown algorithm (naming the valid ones), an unsupported
    `language`, a bad count/ratio/budget, and input that is empty or not text.
    """
    chosen = _REGISTRY.get(algorithm)
    if chosen is None:
        raise SummaryError(
            f"unknown algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}"
        )
    if ratio is not None and not 0 < ratio <= 1:
        raise SummaryError(f"ratio must be in (0, 1], got {ratio}")
    if ratio is None and sentences < 1:
        raise SummaryError(f"the number of sentences must be at least 1, got {sentences}")
    if max_chars < 1:
        raise SummaryError(f"max_chars must be at least 1, got {max_chars}")
    if isinstance(max_words, int) and max_words < 1:
        raise SummaryError(f"max_words must be at least 1, got {max_words}")
    check_is_text(text)
    code = _resolve_language(text, language, default_language)

    prepared = prepare(text, title, code, limit=None if ratio is not None else chosen.window)
    count = sentences
    if ratio is not None:
        # The share is of the whole article; the ranking still only looks at the window.
        count = max(1, math.ceil(ratio * len(prepared.candidates)))
        prepared = Prepared(prepared.title, prepared.candidates[: chosen.window])
    ranking = chosen.rank(prepared, code, count)
    texts = [c.text for c in prepared.candidates]
    lengths = [len(c.words) for c in prepared.candidates]
    budget = max_words if max_words != AUTO else None
    if max_words == AUTO and ratio is None:
        budget = word_budget(count, code)
    if budget is not None and count <= DEFAULT_SENTENCES and isinstance(ranking, Ranking):
        # At the default length, the learned scorer chooses the summary whole (how many of its
        # best sentences, within the budget); a longer summary asked for is filled to its budget.
        ranking = ranking.within(budget, count)
    return _select(texts, ranking, count, max_chars, budget, lengths)


def summarize_or_none(
    text: str,
    title: str,
    language: str | None,
    *,
    algorithm: str = DEFAULT_ALGORITHM,
    sentences: int = DEFAULT_SENTENCES,
    default_language: str = "fr",
) -> tuple[str, ...] | None:
    """An article's summary computed ahead of readers (ingest, import), or None when its text
    has none.

    Where `summarize` raises SummaryError, this falls back instead: an article whose declared
    language we lack (a feed that says "ru", a record that says "ja") is summarized in the
    language detected from its text, and one that still cannot be summarized (too short, not
    text) has no summary, which readers are told. Module-level, so a process pool can pickle it.
    """
    try:
        return tuple(
            summarize(
                text,
                title=title,
                language=language,
                algorithm=algorithm,
                sentences=sentences,
                default_language=default_language,
            )
        )
    except SummaryError:
        if language:
            return summarize_or_none(
                text,
                title,
                None,
                algorithm=algorithm,
                sentences=sentences,
                default_language=default_language,
            )
        return None


def _resolve_language(text: str, language: str | None, default_language: str) -> str:
    if language:
        return normalize_language(language)
    detected = _detect(text)
    if detected in SUPPORTED:
        return detected
    return normalize_language(default_language)


def _select(
    texts: list[str],
    ranking: list[int],
    count: int,
    max_chars: int,
    max_words: int | None,
    lengths: list[int],
) -> list[str]:
    """The first `count` ranked sentences that fit the character and word budgets, in
    document order.

    A sentence that does not fit is skipped for a lower-ranked one that does, so a long
    sentence cannot crowd out the rest of the summary. The best sentence is always kept
    whatever its word count: the word budget picks whole sentences, it never cuts one.
    """
    chosen: list[int] = []
    used = words_used = 0
    for index in ranking:
        if len(chosen) >= count:
            break
        cost = len(texts[index]) + (1 if chosen else 0)
        if chosen and max_words is not None and words_used + lengths[index] > max_words:
            continue
        if used + cost <= max_chars:
            chosen.append(index)
            used += cost
            words_used += lengths[index]
    if not chosen:
        return [_truncate(texts[ranking[0]], max_chars)]
    return [texts[i] for i in sorted(chosen)]


def _truncate(sentence: str, max_chars: int) -> str:
    if len(sentence) <= max_chars:
        return sentence
    room = max_chars - len(_ELLIPSIS)
    if room <= 0:
        return sentence[:max_chars]
    cut = sentence[: room + 1].rsplit(" ", 1)[0] if " " in sentence[:room] else sentence[:room]
    return cut[:room].rstrip() + _ELLIPSIS
