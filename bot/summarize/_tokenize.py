"""Text -> paragraphs -> sentences -> words, without any NLTK data.

Sentence splitting is `sentence-splitter` (the Moses rules with per-language non-breaking
prefixes) wrapped in a few rules of our own. It was chosen by measurement (`python bench/rouge.py
--splitters`): on the hand-checked French and English cases in
`tests/fixtures/summarize/sentence_cases.json` and on the French news dev set it beats NLTK's
untrained Punkt tokenizer (which needs no data but splits after "J.-P.", "U.S." and "Dr.") and a
plain regex, once our pre/post rules are added. Those rules exist because of what the Moses rules
miss on scraped news:

* Scraped articles lose paragraph breaks and glue sentences: "violence domestique.Consternant".
  Moses only breaks at a space, so we insert one where a lowercase word or a number ends with
  . ! ? or … and a capitalized word follows immediately. Two lowercase letters are required
  before the dot so "l'U.E.", "J.-P.Sartre" and "M.Macron" are left alone.
* The same happens after a closing quote: `larynx. »Lien ADN`.
* Moses only treats the ASCII space as a word separator, so no-break and narrow no-break spaces
  (French typography puts them before ; : ! ? » and %) are plain spaces for the splitter, and
  put back in the sentences it returns.
* Abbreviations missing from the Moses lists ("3 janv. 2000", "Pr. Dupont", "Jan. 5") are
  merged back, and a piece that starts with a lowercase letter is glued to the previous one:
  no sentence in these languages starts lowercase, so such a split is always a false one.
* Pieces that are only punctuation ("»", "(...)") belong to the sentence before them.

Words are runs of letters (digits and punctuation never decide what a sentence is about). In the
languages that elide with an apostrophe ("l'équipage") the apostrophe separates words; in English
it stays inside the word, because sumy's English stop words list "don't" and "it's".
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import regex
from sentence_splitter import SentenceSplitter

from bot.summarize._languages import normalize_language, word_set

# Every horizontal space character except the plain one, including no-break (U+00A0) and narrow
# no-break (U+202F) spaces.
_ODD_SPACES = re.compile(r"[^\S\n\r ]")
# A space that Moses might turn into a sentence break: after . ! ? … or a closing quote/bracket.
_MAYBE_BREAK = re.compile(r"(?<=[.!?…\"'”’»)\]]) +(?=\S)")
_SPACE_RUN = re.compile(r"\s+")
_BLANK_LINE = re.compile(r"\n\s*\n")
_LINE_BREAK = re.compile(r"\r\n?|\n")
_TERMINAL = '.!?…:;»"”)]'
# A line shorter than this without final punctuation is a heading or a byline, not wrapped text.
_WRAPPED_LINE_MIN = 40

# word + . ! ? … + Capitalized word, with no space after: "domestique.Consternant", "2019.Le",
# "Pécresse.L'Elysée", "iranienne\".Mercredi" and "maintenant ?Personne" too.
_GLUED = re.compile(
    r"((?:[^\W_]{2}|[^\W_][\"”»)\]])[\"”»)\]]? ?)([.!?…]+)([^\W\d_](?:[^\W\d_]|['’][^\W\d_]))"
)
# "etc." is a Moses non-breaking prefix, but in news it mostly ends a list and its sentence.
_ETC_END = re.compile(r"(?<=\betc\.) +(?=[«\"“]?[A-ZÀ-ÖØ-Þ])")
# closing quote glued to the next word: "larynx. »Lien", "dit.”The"
_GLUED_QUOTE = re.compile(r"([.!?…]\s*[»”\"])([^\W\d_])")

# Abbreviations that the Moses prefix lists lack but that news uses before a capital or number.
_EXTRA_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "fr": word_set(
        "janv févr fév avr juil sept oct nov déc Pr Mgr Me Mlle Mme Ste St Cie éd hab n° vol"
    ),
    "en": word_set("Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec approx Rep Gov Lt"),
}
_TRAILING_WORD = re.compile(r"([^\s(«\"“]+)\.$")

_WORD_ELIDING = re.compile(r"[^\W\d_]+")
_WORD_ENGLISH = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


@cache
def _splitter(code: str) -> _Moses:
    """One Moses splitter per language; `split` keeps no state, so threads can share it."""
    return _Moses(SentenceSplitter(language=code))


# The Moses rules as `sentence-splitter` 1.4 applies them, with the patterns compiled once.
# Written here because the library passes pattern strings to `regex.sub` and `regex.search`
# on every call and for every word: looking them up in `regex`'s cache cost about 20 us each,
# two thirds of the time of summarizing a short article. The decisions are the library's (its
# non-breaking prefixes are used as loaded; tests/test_summarize_tokenize.py compares both on
# every case).
_STARTER = r"['\"([\u00bf\u00a1\p{Initial_Punctuation}]"
_UPPER = r"[\p{Uppercase_Letter}\p{Other_Letter}]"
_MOSES_RULES = tuple(
    regex.compile(pattern)
    for pattern in (
        rf"([?!]) +({_STARTER}*{_UPPER})",
        rf"(\.[\.]+) +({_STARTER}*{_UPPER})",
        rf"([?!\.][\ ]*['\")\]\p{{Final_Punctuation}}]+) +({_STARTER}*[\ ]*{_UPPER})",
        rf"([?!\.]) +(['\"[\u00bf\u00a1\p{{Initial_Punctuation}}]+[\ ]*{_UPPER})",
    )
)
_MOSES_SPACES = regex.compile(r" +")
_MOSES_PERIOD = regex.compile(r"([\w\.\-]*)(['\"\)\]\%\p{Final_Punctuation}]*)(\.+)$")
_MOSES_ACRONYM = regex.compile(r"(\.)[\p{Uppercase_Letter}\p{Other_Letter}\-]+(\.+)$")
_MOSES_NEXT = regex.compile(rf"^([ ]*{_STARTER}*[ ]*[\p{{Uppercase_Letter}}\p{{Other_Letter}}0-9])")
_MOSES_DIGITS = regex.compile(r"^[0-9]+")


class _Moses:
    """`SentenceSplitter.split` with compiled patterns (see above)."""

    def __init__(self, splitter: SentenceSplitter) -> None:
        prefixes = splitter._SentenceSplitter__non_breaking_prefixes
        numeric = SentenceSplitter.PrefixType.NUMERIC_ONLY
        self._default = frozenset(p for p, kind in prefixes.items() if kind != numeric)
        self._numeric = frozenset(p for p, kind in prefixes.items() if kind == numeric)

    def split(self, text: str) -> list[str]:
        if not text:
            return []
        for rule in _MOSES_RULES:
            text = rule.sub("\\1\n\\2", text)
        words = _MOSES_SPACES.split(text)
        for i in range(len(words) - 1):
            match = _MOSES_PERIOD.search(words[i])
            if not match:
                continue
            prefix, punct = match.group(1), match.group(2)
            if prefix and prefix in self._default and not punct:
                continue  # an honorific such as "M." or "Dr."
            if _MOSES_ACRONYM.search(words[i]):
                continue  # an upper-case acronym: "U.S."
            if not _MOSES_NEXT.search(words[i + 1]):
                continue
            if prefix in self._numeric and not punct and _MOSES_DIGITS.search(words[i + 1]):
                continue  # "No. 5", "p. 12"
            words[i] += "\n"
        text = " ".join(words)
        text = _MOSES_SPACES.sub(" ", text).replace("\n ", "\n").replace(" \n", "\n").strip()
        return text.split("\n")


def normalize(text: str) -> str:
    """NFC and Unix newlines: the form every later step assumes.

    Odd spaces are kept (French puts no-break spaces before ; : ! ? » and inside numbers, and
    a summary should read like the article); only the splitter sees them as plain spaces.
    """
    text = unicodedata.normalize("NFC", text)
    return _LINE_BREAK.sub("\n", text)


def split_blocks(text: str) -> list[str]:
    """Paragraph-like blocks: blank lines separate, and so does a short unpunctuated line.

    A hard-wrapped paragraph is joined back into one line. A short line without final
    punctuation (a heading, a byline, a category) becomes its own block so it cannot be glued
    to the first sentence of the body, unless the next line goes on in lowercase.
    """
    blocks: list[str] = []
    for paragraph in _BLANK_LINE.split(normalize(text)):
        current: list[str] = []
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        for number, line in enumerate(lines):
            current.append(line)
            continued = number + 1 < len(lines) and lines[number + 1][:1].islower()
            if len(line) < _WRAPPED_LINE_MIN and line[-1] not in _TERMINAL and not continued:
                blocks.append(" ".join(current))
                current = []
        if current:
            blocks.append(" ".join(current))
    return blocks


def _unglue(text: str) -> str:
    def glued(match: re.Match[str]) -> str:
        before, punct, after = match.groups()
        last = [ch for ch in before if ch.isalnum()][-1]
        if before.endswith(" ") and punct[0] not in "!?":
            return match.group(0)
        starts_word = after[0].isupper() and (after[1].islower() or after[1] in "'’")
        if (last.islower() or last.isdigit()) and starts_word:
            return f"{before}{punct} {after}"
        return match.group(0)

    text = _GLUED.sub(glued, text)
    return _GLUED_QUOTE.sub(r"\1 \2", text)


def _is_punctuation_only(piece: str) -> bool:
    return not any(ch.isalnum() for ch in piece)


def _ends_with_abbreviation(piece: str, code: str) -> bool:
    match = _TRAILING_WORD.search(piece)
    return match is not None and match.group(1) in _EXTRA_ABBREVIATIONS.get(code, frozenset())


def _repair(pieces: list[str], code: str) -> list[str]:
    out: list[str] = []
    for piece in (p for chunk in pieces for p in _ETC_END.split(chunk)):
        piece = piece.strip()
        if not piece:
            continue
        if out and (
            _is_punctuation_only(piece)
            or piece[0].islower()
            or _ends_with_abbreviation(out[-1], code)
        ):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _restore(pieces: list[str], original: str) -> list[str]:
    """Give each piece the spacing it had in `original`.

    The splitter only ever adds, removes or replaces spaces, so walking both texts by their
    non-space characters finds each piece's span; a no-break space in the article survives,
    any other run of spaces becomes one plain space.
    """
    out: list[str] = []
    i = 0
    for piece in pieces:
        needed = sum(not ch.isspace() for ch in piece)
        while i < len(original) and original[i].isspace():
            i += 1
        start = i
        while needed and i < len(original):
            if not original[i].isspace():
                needed -= 1
            i += 1
        span = original[start:i]
        if "".join(span.split()) != "".join(piece.split()):
            return pieces
        out.append(_SPACE_RUN.sub(_one_space, span))
    return out


def _one_space(match: re.Match[str]) -> str:
    run = match.group(0)
    return run if run in ("\u00a0", "\u202f") else " "


def _moses(text: str, code: str) -> list[str]:
    """`SentenceSplitter.split`, asked only where a sentence could end.

    Moses decides each break from the token before a space and the token after it, but its
    implementation runs several uncompiled `regex` searches on every word of the text, which
    costs about 40 µs a word (30 ms for a short article). Only a space after a token ending in
    . ! ? … or a closing quote/bracket can be a break, so we ask the splitter about each such
    break alone, with its neighbouring tokens: the same decisions in a tenth of the time.
    """
    splitter = _splitter(code)
    pieces: list[str] = []
    start = 0
    for match in _MAYBE_BREAK.finditer(text):
        # Two tokens of context on each side: French sets quotes apart ("fini. » Il", ". « A").
        left = text[_token_start(text, _token_start(text, match.start()) - 1) : match.start()]
        right = text[match.end() : _token_end(text, _token_end(text, match.end()) + 1)]
        if _breaks_after(splitter.split(f"{left} {right}"), left):
            pieces.append(text[start : match.start()])
            start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()]


def _token_start(text: str, end: int) -> int:
    """Start of the space-separated token that ends at `end` (0 when there is none)."""
    return text.rfind(" ", 0, max(end, 0)) + 1 if end > 0 else 0


def _token_end(text: str, start: int) -> int:
    """End of the space-separated token that starts at `start`."""
    end = text.find(" ", start)
    return len(text) if end < 0 or start > len(text) else end


def _breaks_after(pieces: list[str], left: str) -> bool:
    """Did the splitter end a sentence exactly where `left` ends?"""
    wanted = len(left.replace(" ", ""))
    seen = 0
    for piece in pieces[:-1]:
        seen += len(piece.replace(" ", ""))
        if seen == wanted:
            return True
    return False


def split_block(block: str, code: str) -> list[str]:
    """Sentences of one block (no newlines inside) for a normalized language code."""
    plain = " ".join(_ODD_SPACES.sub(" ", block).split())
    pieces = _repair(_moses(_unglue(plain), code), code)
    if plain == block:
        return pieces
    return _restore(pieces, block)


def split_sentences(text: str, language: str = "fr") -> list[str]:
    """Sentences of `text` in document order, each stripped, none empty."""
    code = normalize_language(language)
    return [s for block in split_blocks(text) for s in split_block(block, code)]


def words(text: str, code: str) -> list[str]:
    """Lowercased words of a sentence (letters only; see the module docstring)."""
    text = text.replace("\u2019", "'").lower()
    pattern = _WORD_ENGLISH if code == "en" else _WORD_ELIDING
    return pattern.findall(text)


class SumyTokenizer:
    """The tokenizer sumy's document model and summarizers call, minus NLTK's punkt data.

    sumy only needs `language`, `to_sentences` and `to_words`. Words keep their case here
    because sumy lowercases them itself and the Edmundson title method compares raw words.
    """

    def __init__(self, code: str) -> None:
        self.language = code
        self._code = code

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph, self._code))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        text = sentence.replace("\u2019", "'")
        pattern = _WORD_ENGLISH if self._code == "en" else _WORD_ELIDING
        return tuple(pattern.findall(text))
