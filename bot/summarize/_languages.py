"""Which languages we summarize, and the per-language resources that go with them.

A language is supported when three things exist offline for it: sumy's stop-word list, a stemmer
(NLTK's Snowball stemmers or sumy's own, both pure Python with no data download) and a
non-breaking-prefix list in `sentence-splitter`. That is the intersection of what the two
packages ship; Ukrainian, Hebrew, Arabic and the CJK languages have stop words in sumy but no
splitter rules (or need extra packages), and sumy's Greek and Polish stemmers need packages of
their own (`greek-stemmer-pos`, `pystempel`), so they are left out rather than half-working.

Everything here is read-only after first use and cached with `functools.lru_cache`, so worker
threads can share it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from bot.errors import SummaryError

# ISO 639-1 code -> the language name sumy uses for its stop-word files and stemmers.
_SUMY_NAMES: dict[str, str] = {
    "cs": "czech",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "pt": "portuguese",
    "sk": "slovak",
    "sv": "swedish",
}

SUPPORTED: tuple[str, ...] = tuple(sorted(_SUMY_NAMES))

# Below this posterior probability py3langid's guess is treated as "unsure". Short or mixed
# snippets land well under it; a paragraph of real prose is above 0.9.
_MIN_CONFIDENCE = 0.5
# Enough text for a confident guess; classifying a 100 kB article costs time for nothing.
_DETECT_CHARS = 2000


def word_set(text: str) -> frozenset[str]:
    """The space-separated words of `text`: word lists stay readable in the source."""
    return frozenset(text.split())


def normalize_language(language: str) -> str:
    """Map "fr", "FR", "fr-FR", "fr_CA" or "french" to the code "fr".

    Raises SummaryError naming the supported codes when the language is not one of them, so a
    caller (or a user typing `--language`) learns what would have worked.
    """
    value = language.strip().lower().replace("_", "-")
    code = value.split("-", 1)[0]
    if code not in _SUMY_NAMES:
        by_name = {name: c for c, name in _SUMY_NAMES.items()}
        code = by_name.get(value, code)
    if code not in _SUMY_NAMES:
        raise SummaryError(f"unsupported language {language!r}; supported: {', '.join(SUPPORTED)}")
    return code


def sumy_name(code: str) -> str:
    """The language name sumy expects ("french") for a supported code ("fr")."""
    return _SUMY_NAMES[code]


@cache
def stop_words(code: str) -> frozenset[str]:
    """sumy's stop words for the language, lowercased, with curly apostrophes made straight.

    Straight apostrophes are what our word tokenizer produces, so the comparison must use them.
    """
    from sumy.utils import get_stop_words

    words = get_stop_words(sumy_name(code))
    return frozenset(w.lower().replace("\u2019", "'") for w in words)


@cache
def stemmer(code: str) -> Callable[[str], str]:
    """A memoized stemmer: news repeats its words, and Snowball in pure Python is the hot spot.

    The cache is an `lru_cache`, which is safe to share between threads.
    """
    from sumy.nlp.stemmers import Stemmer

    base = Stemmer(sumy_name(code))

    @lru_cache(maxsize=100_000)
    def stem(word: str) -> str:
        return str(base(word))

    return stem


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's model (about 0.7 s to load), loaded once on first use."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when the guess is not confident.

    Any language py3langid knows can come back, supported or not: the caller decides what to
    do with a language we cannot summarize. Text without letters ("123 456", punctuation) is
    None, as is a snippet too short to tell.
    """
    sample = unicodedata.normalize("NFC", text[:_DETECT_CHARS])
    if sum(ch.isalpha() for ch in sample) < 3:
        return None
    language, confidence = _identifier().classify(sample)
    if language in ("und", "zxx") or confidence < _MIN_CONFIDENCE:
        return None
    return str(language)
