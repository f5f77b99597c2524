"""Rankers: each orders the candidate sentences from most to least worth keeping.

A ranker returns candidate positions, best first. Choosing how many to keep, the character
budget and document order are the caller's job, so every algorithm gets the same treatment.

sumy's summarizers only return the top N in document order; to get their full ranking we pass
a callable as the sentence count, which sumy calls with all sentences sorted by rating.

Each algorithm has a `window`: how many candidates (from the start of the article) it ranks.
News puts what matters first, and the pairwise algorithms (LexRank, TextRank, KL, LSA's SVD) are
quadratic or worse in the number of sentences, so the window is what keeps a 20,000-word text
under a second (see bench/speed.py). Sentences are also cut to `_MAX_WORDS_RANKED` words for
ranking only, so one giant run-on "sentence" cannot dominate the cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.summarize import _learned
from bot.summarize._clean import Prepared, content_words
from bot.summarize._languages import stemmer, stop_words, word_set
from bot.summarize._tokenize import SumyTokenizer, words

# (prepared article, language code, sentences wanted) -> candidate positions, best first
Ranker = Callable[[Prepared, str, int], list[int]]

_MAX_WORDS_RANKED = 80
# Greedy algorithms pick this many sentences beyond the count asked for, as substitutes when a
# pick does not fit the character budget.
_SPARE_PICKS = 5


@dataclass(frozen=True, slots=True)
class Algorithm:
    """A named ranker and the number of leading candidates it looks at."""

    name: str
    rank: Ranker
    window: int
    doc: str


# --- lead -----------------------------------------------------------------------------------


def _lead(prepared: Prepared, code: str, count: int) -> list[int]:
    return [c.position for c in prepared.candidates]


# --- sumy ----------------------------------------------------------------------------------


def _document(prepared: Prepared, code: str, *, with_title: bool = False) -> Any:
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

    tokenizer = SumyTokenizer(code)
    paragraphs: list[list[Any]] = []
    last_block = None
    for candidate in prepared.candidates:
        if candidate.block != last_block:
            paragraphs.append([])
            last_block = candidate.block
        text = " ".join(candidate.text.split()[:_MAX_WORDS_RANKED])
        paragraphs[-1].append(Sentence(text, tokenizer))
    if with_title and prepared.title:
        paragraphs[0].insert(0, Sentence(prepared.title, tokenizer, is_heading=True))
    return ObjectDocumentModel([Paragraph(p) for p in paragraphs])


def _run_sumy(summarizer: Any, document: Any) -> list[int]:
    """Full ranking from a sumy summarizer (sentence identity is its text, unique after dedup)."""
    ranked: list[Any] = []

    def take_all(infos: list[Any]) -> list[Any]:
        ranked.extend(infos)
        return infos

    summarizer(document, take_all)
    order = [info.order for info in ranked]
    seen = set(order)
    order.extend(i for i in range(len(document.sentences)) if i not in seen)
    return order


def _configured(summarizer: Any, code: str) -> Any:
    if hasattr(summarizer, "stop_words"):
        summarizer.stop_words = stop_words(code)
    return summarizer


def _sumy_ranker(factory: Callable[[Callable[[str], str], int], Any]) -> Ranker:
    def rank(prepared: Prepared, code: str, count: int) -> list[int]:
        summarizer = _configured(factory(stemmer(code), count), code)
        return _run_sumy(summarizer, _document(prepared, code))

    return rank


def _lexrank(stem: Callable[[str], str], count: int) -> Any:
    from sumy.summarizers.lex_rank import LexRankSummarizer

    return LexRankSummarizer(stem)


def _textrank(stem: Callable[[str], str], count: int) -> Any:
    from sumy.summarizers.text_rank import TextRankSummarizer

    return TextRankSummarizer(stem)


def _lsa(stem: Callable[[str], str], count: int) -> Any:
    from sumy.summarizers.lsa import LsaSummarizer

    return LsaSummarizer(stem)


def _luhn(stem: Callable[[str], str], count: int) -> Any:
    from sumy.summarizers.luhn import LuhnSummarizer

    return LuhnSummarizer(stem)


def _sumbasic(stem: Callable[[str], str], count: int) -> Any:
    from sumy.summarizers.sum_basic import SumBasicSummarizer

    return SumBasicSummarizer(stem)


def _kl(stem: Callable[[str], str], count: int) -> Any:
    from sumy.summarizers.kl import KLSummarizer

    class GreedyKL(KLSummarizer):
        """sumy's KL-Sum, stopping once the summary is chosen.

        sumy ranks every sentence by running the greedy KL step to the end, which is cubic in
        the number of sentences (170 ms for an 900-word article). Only the first picks matter
        (a few spare ones in case a sentence does not fit the character budget); the rest keep
        document order. The summary's words are also filtered like the sentences' (sumy mixes
        in raw words, stop words included, which skews the divergence).
        """

        def _compute_ratings(self, sentences: Sequence[Any]) -> dict[Any, float]:
            doc_freq = self.compute_tf(sentences)
            remaining = [
                (index, self._get_content_words_in_sentence(s)) for index, s in enumerate(sentences)
            ]
            summary: list[str] = []
            ratings: dict[Any, float] = {}
            while remaining and len(ratings) < count + _SPARE_PICKS:
                divergences = [
                    self._kl_divergence(self._joint_freq(words, summary), doc_freq)
                    for _, words in remaining
                ]
                index, words = remaining.pop(divergences.index(min(divergences)))
                summary.extend(words)
                ratings[sentences[index]] = -len(ratings)
            for index, _ in remaining:
                ratings[sentences[index]] = -len(sentences) - index
            return ratings

    return GreedyKL(stem)


# Words that mark a sentence as commentary or page furniture rather than the news itself
# (Edmundson's "stigma" words). Only for languages we can vouch for; elsewhere the cue method is
# off and the key method (frequent words) stands in for it.
_STIGMA: dict[str, frozenset[str]] = {
    "fr": word_set(
        "peut-être probablement semble sembler apparemment hypothèse rumeur cliquez lire abonnez "
        "photo vidéo diaporama publicité commentaire commentaires"
    ),
    "en": word_set(
        "perhaps maybe probably apparently seemingly rumour rumor click read subscribe photo "
        "video slideshow advertisement comments"
    ),
}
_KEY_WORDS = 10


def _edmundson(prepared: Prepared, code: str, count: int) -> list[int]:
    """Edmundson (1969): cue + key + title + location, with word lists built from the article.

    Bonus words are the headline's content words plus the article's most frequent content words;
    stigma words are the hedging/furniture list above; null words are the stop words.
    """
    from sumy.summarizers.edmundson import EdmundsonSummarizer

    counts: Counter[str] = Counter()
    for candidate in prepared.candidates:
        counts.update(w for w in candidate.words if len(w) > 1 and w not in stop_words(code))
    bonus = {w for w, _ in counts.most_common(_KEY_WORDS)}
    if prepared.title:
        bonus |= content_words(words(prepared.title, code), code)
    if not bonus:
        return _lead(prepared, code, count)
    stigma = _STIGMA.get(code, frozenset())
    summarizer = EdmundsonSummarizer(
        stemmer(code),
        cue_weight=1.0 if stigma else 0.0,
        key_weight=0.0 if stigma else 1.0,
        title_weight=1.0 if prepared.title else 0.0,
        location_weight=1.0,
    )
    summarizer.bonus_words = bonus
    summarizer.stigma_words = stigma
    summarizer.null_words = stop_words(code)
    return _run_sumy(summarizer, _document(prepared, code, with_title=True))


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "default",
            _learned.rank,
            400,
            "a sentence scorer learned from news abstracts (position, headline, centrality...)",
        ),
        Algorithm("lead", _lead, 400, "the first sentences, after cleaning"),
        Algorithm("lexrank", _sumy_ranker(_lexrank), 120, "sumy LexRank (graph centrality)"),
        Algorithm("textrank", _sumy_ranker(_textrank), 120, "sumy TextRank (graph centrality)"),
        Algorithm("lsa", _sumy_ranker(_lsa), 200, "sumy LSA (latent topics via SVD)"),
        Algorithm("luhn", _sumy_ranker(_luhn), 400, "sumy Luhn (clusters of significant words)"),
        Algorithm("sumbasic", _sumy_ranker(_sumbasic), 200, "sumy SumBasic (word probability)"),
        Algorithm("kl", _sumy_ranker(_kl), 200, "sumy KL-Sum (closest word distribution)"),
        Algorithm("edmundson", _edmundson, 400, "sumy Edmundson (cue, key, title, location)"),
    )
}
