"""Sentence splitting, words and language detection of bot.summarize.

The sentence cases live in tests/fixtures/summarize/sentence_cases.json so that
`bench/rouge.py --splitters` measures the candidate splitters on exactly the same ground truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import SummaryError
from bot.summarize import detect_language, split_sentences, supported_languages
from bot.summarize._tokenize import SumyTokenizer, split_blocks, words

FIXTURES = Path(__file__).parent / "fixtures" / "summarize"
CASES = json.loads((FIXTURES / "sentence_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_split_sentences_on_tricky_news_text(case: dict[str, object]) -> None:
    assert split_sentences(str(case["text"]), str(case["language"])) == case["sentences"]


def test_glued_sentences_are_split_but_acronyms_are_not() -> None:
    text = "Les pays de l'U.E. ont voté.Le texte passe. J.-P.Sartre l'a écrit."
    assert split_sentences(text, "fr") == [
        "Les pays de l'U.E. ont voté.",
        "Le texte passe.",
        "J.-P.Sartre l'a écrit.",
    ]


def test_no_break_spaces_survive_in_the_sentences() -> None:
    text = "Il a dit\u00a0: «\u00a0Non\u00a0!\u00a0» Puis il est parti."
    sentences = split_sentences(text, "fr")
    assert sentences == ["Il a dit\u00a0: «\u00a0Non\u00a0!\u00a0»", "Puis il est parti."]


def test_short_unpunctuated_lines_are_their_own_blocks() -> None:
    text = "Un titre court\nLe corps du texte commence ici\net continue sur une autre ligne."
    assert split_blocks(text) == [
        "Un titre court",
        "Le corps du texte commence ici et continue sur une autre ligne.",
    ]


def test_split_sentences_rejects_an_unsupported_language() -> None:
    with pytest.raises(SummaryError, match="supported: "):
        split_sentences("Привет. Как дела?", "ru")


def test_language_codes_and_names_are_normalized() -> None:
    assert split_sentences("Bonjour. Au revoir.", "FR-fr") == ["Bonjour.", "Au revoir."]
    assert split_sentences("Hello there. Bye now.", "english") == ["Hello there.", "Bye now."]


def test_words_split_french_elisions_and_keep_english_contractions() -> None:
    assert words("L’équipage d'Air France n'a rien dit.", "fr") == [
        "l",
        "équipage",
        "d",
        "air",
        "france",
        "n",
        "a",
        "rien",
        "dit",
    ]
    assert words("They don't know 3 things.", "en") == ["they", "don't", "know", "things"]


def test_sumy_tokenizer_needs_no_nltk_data() -> None:
    tokenizer = SumyTokenizer("fr")
    assert tokenizer.language == "fr"
    assert tokenizer.to_sentences("M. Dupont parle. Il part.") == ("M. Dupont parle.", "Il part.")
    assert tokenizer.to_words("L’homme est là.") == ("L", "homme", "est", "là")


def test_supported_languages_include_french_and_english() -> None:
    languages = supported_languages()
    assert {"fr", "en", "de", "es", "it"} <= set(languages)
    assert "uk" not in languages  # sumy has stop words but the splitter has no rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Le président a visité la région pour signer des accords de coopération.", "fr"),
        ("The president visited the region to sign several cooperation agreements.", "en"),
        ("Der Präsident besuchte die Region, um mehrere Abkommen zu unterzeichnen.", "de"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "123 456 789", "!!! ???", "ok"])
def test_detect_language_is_none_when_unsure(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize("language", ["fr", "en"])
def test_compiled_moses_rules_decide_as_sentence_splitter_does(language: str) -> None:
    """`_Moses` is sentence-splitter's `split` with compiled patterns: the same pieces on every
    hand-checked case, on the fixture articles, and on each of their lines."""
    from sentence_splitter import SentenceSplitter

    from bot.summarize._tokenize import _Moses

    library = SentenceSplitter(language)
    ours = _Moses(library)
    texts = [c["text"] for c in CASES]
    for path in FIXTURES.glob("article_*.txt"):
        article = path.read_text(encoding="utf-8")
        texts += [article, *article.splitlines()]
    texts += [
        "Il a dit : « C'est fini. » Puis il est parti... Vraiment ? Oui ! M. Dupont, p. 12.",
        'He said "It is over." Then he left. The U.S. Army, No. 5 and Dr. Who (see p. 3).',
        "",
        "un mot",
    ]
    for text in texts:
        plain = " ".join(text.split())
        assert ours.split(plain) == library.split(plain), plain
