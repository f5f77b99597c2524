"""From raw article text to the candidate sentences a summary may use.

Every algorithm ranks the same candidates, so the rules that keep junk out of summaries live
here once: the title and byline are cut off, boilerplate and fragments are dropped, and a
sentence that repeats an earlier one (scraped pages often repeat whole paragraphs) is dropped in
favour of its first occurrence. Without the de-duplication several sumy algorithms pick the same
sentence twice, because both copies get the same score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import SummaryError
from bot.summarize._languages import stop_words
from bot.summarize._tokenize import normalize, split_block, split_blocks, words
from bot.text import fold

# A candidate needs this many words: shorter pieces are captions, categories ("Politique"),
# datelines and bylines, and read badly as a summary line.
MIN_WORDS = 5
# Only this much of a body is read (about 23,000 words of French): enough for any news article,
# and it keeps a pathological input (a book, a log file) within the one-second budget.
MAX_SCANNED_CHARS = 150_000
# Jaccard similarity of content words at or above which two sentences say the same thing.
NEAR_DUPLICATE_JACCARD = 0.7
# ... or when nearly all the content words of the shorter one are in the other.
NEAR_DUPLICATE_CONTAINMENT = 0.9

_MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
    "novembre|décembre|decembre|january|february|march|april|may|june|july|august|"
    "september|october|november|december|janv|févr|avr|juil|sept|oct|nov|déc|dec|jan|feb|"
    "mar|apr|jun|jul|aug|sep"
)
_NAME = r"[A-ZÀ-ÖØ-Þ][\w'’.\-]*"
_PARTICLE = r"(?:de|du|des|d'|van|von|da|di|le|la|ben|el|al)"
_AUTHOR = rf"{_NAME}(?:\s+(?:{_PARTICLE}\s*)?{_NAME}){{0,3}}"
_DATE = (
    rf"(?:(?:le|on)\s+)?(?:\w+\s+)?"
    rf"(?:(?i:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}(?:er|st|nd|rd|th)?\s+(?i:{_MONTHS})\.?)"
    rf",?\s+\d{{4}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}"
)
# "Louis Joubert, novembre 26, 2025", "Par Anne Dupont, le 3 mars 2024 à 10h05", "By Jo Doe | May 2,
# 2024". Names must be capitalized (only the month is case-blind) and the body must start right
# after it with a capital, so "Le président Emmanuel Macron, le 3 mars 2024, a dit" is no byline.
_BYLINE = re.compile(
    rf"(?:(?:[Pp]ar|[Bb]y)\s+)?(?P<author>{_AUTHOR})\s*[,|–—-]\s*(?P<date>{_DATE})"
    rf"(?:\s+(?:à|at)\s+\d{{1,2}}[h:]\d{{2}}(?:\s*[ap]m)?)?"
    r"(?=\s*$|\s+[«\"“(]?[A-ZÀ-ÖØ-Þ])"
)
_BYLINE_ALONE = re.compile(rf"^(?:Par|By)\s+{_AUTHOR}\.?$")
# How far into the text a byline may start to count as the header.
_HEADER_SPAN = 400

# Page furniture. Two patterns rather than one alternation: the phrases that may appear anywhere
# are searched in the casefolded sentence without IGNORECASE, which lets `re` skip ahead to the
# letters they start with (one case-blind alternation cost 80 us a sentence).
_BOILERPLATE_START = re.compile(
    r"""(?:[àa]\s+)?lire\s+(?:aussi|également|la\s+suite)
    |(?:voir|regarder)\s+(?:aussi|la\s+vidéo)
    |(?:read|see)\s+(?:more|also)\b|related\s*:
    |(?:photos?|crédits?|credits?|images?|vidéos?|videos?|source|légende|caption)\s*:
    |(?:mis\s+à\s+jour|publié|updated|published)\s+(?:le|on)\b
    |by\s+\.\s""",
    re.IGNORECASE | re.VERBOSE,
)
_BOILERPLATE_ANYWHERE = re.compile(
    r"""\b(?:published|updated|last\s+updated)\s*:\s|\bpublié\s+le\s*:
    |cliquez\s+ici|click\s+here|abonnez-vous|inscrivez-vous\s+à|subscribe\s+to\s+our
    |sign\s+up\s+for|newsletter\s*:|tous\s+droits\s+réservés|all\s+rights\s+reserved
    |suivez-nous|follow\s+us\s+on|partagez?\s+cet\s+article|share\s+this\s+article
    |accepte[rz]?\s+les\s+cookies|accept\s+(?:all\s+)?cookies""",
    re.VERBOSE,
)
_LETTERS = re.compile(r"[^\W\d_]+")
_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+")
# Characters that do not occur in text: C0/C1 controls other than whitespace, the replacement
# character a failed decode leaves behind, lone surrogates and private-use code points.
_BINARY = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff]"
)
_MAX_BINARY_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence that may appear in a summary.

    `position` is its rank among candidates in document order (0 = first), `block` the
    paragraph it came from (for Edmundson's location method), `words` its
    lowercased words and `content` those minus stop words, the basis of every similarity.
    """

    position: int
    block: int
    text: str
    words: tuple[str, ...]
    content: frozenset[str]


@dataclass(frozen=True, slots=True)
class Prepared:
    """The article after cleaning: an optional title and its candidate sentences."""

    title: str | None
    candidates: tuple[Candidate, ...]


def check_is_text(text: object) -> str:
    """Return `text` if it is a str that reads as text; SummaryError otherwise.

    Binary data decoded by mistake shows control, private-use or replacement characters; a
    string of only digits and punctuation has no words. Neither can be summarized, and saying
    so is better than returning garbage.
    """
    if not isinstance(text, str):
        raise SummaryError(f"expected text, got {type(text).__name__}")
    if not text.strip():
        raise SummaryError("the text is empty")
    sample = text[:20_000]
    if len(_BINARY.findall(sample)) > _MAX_BINARY_SHARE * len(sample):
        raise SummaryError("the input looks like binary data, not text")
    if not any(ch.isalpha() for ch in sample):
        raise SummaryError("the text has no words to summarize")
    return text


_WORD_RUN = re.compile(r"\w+")


def _fold(value: str) -> str:
    """The folded words of *value* (punctuation dropped), for comparing titles and headers."""
    return " ".join(_WORD_RUN.findall(fold(value)))


def split_header(text: str, title: str | None) -> tuple[str | None, str]:
    """Cut the title and byline off the top of an article: (title, body).

    Pages saved as text start with "Title Author, month day, year Body..." on one line (the seed
    article does) or with the same on separate lines. A byline near the top marks where the body
    starts; what precedes it is the title when none was given. A given title is also removed
    when the text repeats it first. Without either signal the text is returned as is.
    """
    body = normalize(text).strip()
    if title:
        body = _strip_title(body, title)
    match = _BYLINE.search(body[:_HEADER_SPAN])
    if match and _looks_like_header(body[: match.start()]):
        found = body[: match.start()].strip(" \n-–—|:")
        body = body[match.end() :].lstrip(" .,:-–—|\n")
        if not title and found:
            title = found
    return title, body


def _strip_title(body: str, title: str) -> str:
    """*body* without *title* at its start, compared word by word after folding.

    One pass over the words of the head: folding every prefix of it instead cost ~150 folds
    per summary, a fifth of the time of summarizing a feed article.
    """
    target = _fold(title).split()
    if not target:
        return body
    head = body[: len(title) + 40]
    seen: list[str] = []
    for match in _WORD_RUN.finditer(head):
        seen.extend(_fold(match.group()).split())
        if len(seen) < len(target):
            continue
        if seen == target:
            following = _WORD_RUN.search(head, match.end())
            end = following.start() if following else len(head)
            return body[end:].lstrip(" .:-–—|\n")
        break
    return body


def _looks_like_header(prefix: str) -> bool:
    """True when the text before a byline is empty or a headline, not a sentence of the body."""
    prefix = prefix.strip()
    if not prefix:
        return True
    return len(prefix.split()) <= 30 and prefix[-1] not in '.!?…»"'


def _is_boilerplate(sentence: str, tokens: list[str]) -> bool:
    """Page furniture, a lone byline, or mostly links, numbers and symbols (a table row)."""
    if (
        _BOILERPLATE_START.match(sentence)
        or _BOILERPLATE_ANYWHERE.search(sentence.casefold())
        or _BYLINE_ALONE.match(sentence)
    ):
        return True
    letters = sum(map(len, tokens))
    if ("/" in sentence or "@" in sentence or "www." in sentence) and _URL.search(sentence):
        letters = sum(map(len, _LETTERS.findall(_URL.sub(" ", sentence))))
    return letters < 0.5 * (len(sentence) - sentence.count(" "))


def _near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    common = len(a & b)
    if common / len(a | b) >= NEAR_DUPLICATE_JACCARD:
        return True
    return min(len(a), len(b)) >= 3 and common / min(len(a), len(b)) >= NEAR_DUPLICATE_CONTAINMENT


class _Deduplicator:
    """Remembers kept sentences and answers "is this one a repeat?" in near-linear time.

    An inverted index from content word to kept sentences narrows the comparison to sentences
    that share words, so a 20,000-word article is not compared pairwise.
    """

    def __init__(self) -> None:
        self._exact: set[str] = set()
        self._kept: list[frozenset[str]] = []
        self._index: dict[str, list[int]] = {}

    def seen(self, text: str, content: frozenset[str]) -> bool:
        key = " ".join(text.casefold().split())
        if key in self._exact:
            return True
        shared: dict[int, int] = {}
        for word in content:
            for other in self._index.get(word, ()):
                shared[other] = shared.get(other, 0) + 1
        for other, count in shared.items():
            smaller = min(len(content), len(self._kept[other]))
            if count >= NEAR_DUPLICATE_JACCARD * smaller and _near_duplicate(
                content, self._kept[other]
            ):
                return True
        self._exact.add(key)
        number = len(self._kept)
        self._kept.append(content)
        for word in content:
            self._index.setdefault(word, []).append(number)
        return False


def content_words(tokens: list[str] | tuple[str, ...], code: str) -> frozenset[str]:
    """Words that carry meaning: no stop words, no single letters."""
    stops = stop_words(code)
    return frozenset(w for w in tokens if len(w) > 1 and w not in stops)


def prepare(text: str, title: str | None, code: str, limit: int | None = None) -> Prepared:
    """Clean the article into candidates (see the module docstring).

    `limit` stops after that many candidates: summaries of a very long text are taken from its
    beginning, which keeps every algorithm within its time budget. When nothing survives the
    filters but the text does have short sentences (a one-line message), those are used rather
    than failing: a one-sentence text summarizes to itself.
    """
    title, body = split_header(text, title)
    body = _cap(body)
    title_content = content_words(words(title, code), code) if title else frozenset()
    dedup = _Deduplicator()
    if title_content:
        dedup.seen(title or "", title_content)
    kept: list[Candidate] = []
    short: list[str] = []
    for number, block in enumerate(split_blocks(body)):
        if limit is not None and len(kept) >= limit:
            break
        for sentence in split_block(block, code):
            tokens = words(sentence, code)
            if not tokens:
                continue
            if len(tokens) < MIN_WORDS:
                if not _is_boilerplate(sentence, tokens) and not _BYLINE.fullmatch(sentence):
                    short.append(sentence)
                continue
            if _is_boilerplate(sentence, tokens):
                continue
            content = content_words(tokens, code)
            if dedup.seen(sentence, content):
                continue
            kept.append(Candidate(len(kept), number, sentence, tuple(tokens), content))
            if limit is not None and len(kept) >= limit:
                break
    if not kept:
        kept = _fallback(short, code)
    if not kept:
        raise SummaryError("the text has no sentence to summarize")
    return Prepared(title, tuple(kept))


def _cap(body: str) -> str:
    """The first `MAX_SCANNED_CHARS` of the body, cut after the last full sentence.

    The candidate window bounds the ranking, but a text whose sentences are mostly repeats or
    fragments would still be split to its very end; this bounds the cleaning too.
    """
    if len(body) <= MAX_SCANNED_CHARS:
        return body
    head = body[:MAX_SCANNED_CHARS]
    end = max(head.rfind(mark) for mark in (". ", "! ", "? ", ".\n", "\n"))
    return head[: end + 1] if end > 0 else head


def _fallback(short: list[str], code: str) -> list[Candidate]:
    dedup = _Deduplicator()
    kept: list[Candidate] = []
    for sentence in short:
        tokens = words(sentence, code)
        content = content_words(tokens, code)
        if not dedup.seen(sentence, content):
            kept.append(Candidate(len(kept), 0, sentence, tuple(tokens), content))
    return kept
