"""Behaviour of bot.summarize.summarize: what a caller (chat, store, CLI) can rely on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.errors import SummaryError
from bot.summarize import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    split_sentences,
    summarize,
    summarize_or_none,
)
from bot.summarize._clean import prepare, split_header

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "summarize"
ARTICLE_FR = (FIXTURES / "article_fr.txt").read_text(encoding="utf-8")
ARTICLE_EN = (FIXTURES / "article_en.txt").read_text(encoding="utf-8")
TITLE_FR = "Grenoble inaugure son nouveau tramway : une ligne attendue depuis dix ans"
BYLINE_FR = "Claire Martin, mars 14, 2025"
TITLE_EN = "City council approves new bike lanes downtown"

# The body of each fixture, sentence by sentence, once: what every summary must be drawn from.
BODY_FR = split_sentences(ARTICLE_FR.split("2025 ", 1)[1].rsplit(" Société", 1)[0], "fr")
BODY_EN = split_sentences(ARTICLE_EN.split("2024", 1)[1].rsplit("Read more", 1)[0], "en")


def _words(sentence: str) -> set[str]:
    return set(re.findall(r"\w+", sentence.lower()))


def _near_duplicates(a: str, b: str) -> bool:
    x, y = _words(a), _words(b)
    return len(x & y) / len(x | y) >= 0.7


def test_algorithm_names() -> None:
    assert DEFAULT_ALGORITHM == "default"
    assert DEFAULT_ALGORITHM in ALGORITHMS
    assert {"lead", "lexrank", "textrank", "lsa", "luhn", "sumbasic", "kl", "edmundson"} <= set(
        ALGORITHMS
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    ("article", "body", "language", "title"),
    [
        (ARTICLE_FR, BODY_FR, "fr", TITLE_FR),
        (ARTICLE_EN, BODY_EN, "en", TITLE_EN),
    ],
    ids=["fr", "en"],
)
def test_every_algorithm_gives_distinct_body_sentences_in_order(
    algorithm: str, article: str, body: list[str], language: str, title: str
) -> None:
    summary = summarize(article, algorithm=algorithm, sentences=3, max_words=None)

    assert len(summary) == 3
    assert all(sentence in body for sentence in summary)
    positions = [body.index(sentence) for sentence in summary]
    assert positions == sorted(positions), "summary must keep document order"
    for i, a in enumerate(summary):
        for b in summary[i + 1 :]:
            assert not _near_duplicates(a, b), (a, b)
        assert title not in a
        assert len(_words(a)) >= 5


def test_seed_shaped_article_never_yields_title_byline_or_category() -> None:
    for algorithm in ALGORITHMS:
        summary = summarize(ARTICLE_FR, algorithm=algorithm, sentences=10)
        joined = "\n".join(summary)
        assert "Grenoble inaugure" not in joined
        assert "Claire Martin" not in joined
        assert "Société" not in joined
        # 10 asked, but the article only has 7 distinct body sentences
        assert len(summary) == 7, algorithm


def test_lead_takes_the_first_body_sentences() -> None:
    assert summarize(ARTICLE_FR, algorithm="lead", sentences=2, max_words=None) == BODY_FR[:2]


def test_explicit_title_is_removed_from_the_top_and_never_chosen() -> None:
    text = "Le tramway arrive enfin à Grenoble\n\n" + " ".join(BODY_FR)
    title = "Le tramway arrive enfin à Grenoble"
    for algorithm in ALGORITHMS:
        summary = summarize(text, title=title, algorithm=algorithm, sentences=3)
        assert title not in summary
        assert all(sentence in BODY_FR for sentence in summary)


def test_split_header_finds_title_and_byline() -> None:
    title, body = split_header(ARTICLE_FR, None)
    assert title == TITLE_FR
    assert body.startswith("La métropole de Grenoble a inauguré")
    assert BYLINE_FR not in body
    title, body = split_header(ARTICLE_EN, None)
    assert title == TITLE_EN
    assert body.startswith("The city council voted")


def test_a_dated_clause_in_the_first_sentence_is_not_a_byline() -> None:
    text = (
        "Le président Emmanuel Macron, le 3 mars 2024, a annoncé un remaniement. "
        "Les ministres concernés ont été reçus à l'Élysée dans la soirée."
    )
    title, body = split_header(text, None)
    assert title is None
    assert body == text


def test_exact_duplicates_are_dropped() -> None:
    sentence = "Le conseil municipal a voté le budget de la ville mardi soir."
    other = "Les élus de l'opposition ont quitté la salle avant le vote final."
    prepared = prepare(f"{sentence} {other} {sentence}", None, "fr")
    assert [c.text for c in prepared.candidates] == [sentence, other]


def test_near_duplicates_are_dropped_keeping_the_first() -> None:
    first = "L'effet de la visite a été reconnu comme un symbole d'harmonie entre les deux pays."
    near = (
        "Cependant, l'effet de cette visite a été reconnu comme un symbole d'harmonie "
        "entre les deux pays."
    )
    other = "Les négociations reprendront au printemps à Bichkek selon les diplomates."
    prepared = prepare(f"{first} {other} {near}", None, "fr")
    assert [c.text for c in prepared.candidates] == [first, other]


def test_fragments_and_boilerplate_are_dropped() -> None:
    text = (
        "Le gouvernement a présenté mercredi son plan pour les hôpitaux publics. "
        "Lire aussi : les urgences saturées cet été. "
        "Photo : AFP. "
        "Cliquez ici pour recevoir notre newsletter chaque matin. "
        "Les syndicats jugent les mesures insuffisantes et appellent à la grève. "
        "Politique"
    )
    candidates = [c.text for c in prepare(text, None, "fr").candidates]
    assert candidates == [
        "Le gouvernement a présenté mercredi son plan pour les hôpitaux publics.",
        "Les syndicats jugent les mesures insuffisantes et appellent à la grève.",
    ]


def test_sumy_algorithms_no_longer_repeat_a_repeated_paragraph() -> None:
    paragraph = (
        "Le port de Marseille a accueilli un record de passagers cette année. "
        "Les croisiéristes représentent désormais la moitié du trafic du port. "
    )
    text = (
        paragraph
        + "La ville veut limiter le nombre de navires à quai pour réduire la pollution. "
        + paragraph
        + paragraph
    )
    for algorithm in ALGORITHMS:
        summary = summarize(text, algorithm=algorithm, sentences=3, language="fr")
        assert len(summary) == len(set(summary)) == 3, algorithm


@pytest.mark.parametrize("algorithm", ["nope", "", "LexRank "])
def test_unknown_algorithm_lists_the_valid_names(algorithm: str) -> None:
    with pytest.raises(SummaryError) as error:
        summarize(ARTICLE_FR, algorithm=algorithm)
    message = str(error.value)
    assert repr(algorithm) in message
    assert all(name in message for name in ALGORITHMS)


def test_unsupported_language_is_an_error() -> None:
    with pytest.raises(SummaryError, match="unsupported language 'xx'"):
        summarize(ARTICLE_FR, language="xx")


def test_summarize_or_none_is_the_summary_or_none() -> None:
    """What ingest and import store ahead of readers."""
    expected = summarize(ARTICLE_FR, title=TITLE_FR, language="fr")
    assert summarize_or_none(ARTICLE_FR, TITLE_FR, "fr") == tuple(expected)
    assert summarize_or_none("123 456 789. 10 11 12.", "Titre", "fr") is None
    assert summarize_or_none("", "Titre", None) is None
    assert summarize_or_none(ARTICLE_FR, TITLE_FR, "fr", algorithm="nope") is None


def test_summarize_or_none_detects_a_declared_language_it_lacks() -> None:
    expected = summarize(ARTICLE_EN, title=TITLE_EN, algorithm="lead", sentences=2)
    assert summarize_or_none(ARTICLE_EN, TITLE_EN, "xx", algorithm="lead", sentences=2) == tuple(
        expected
    )


def test_language_is_detected_when_not_given() -> None:
    # French rules would keep "Mr. Hayes" whole too, but the English stop words are what make
    # "the", "and" ... not count as content; check detection through an English-only rule.
    summary = summarize(ARTICLE_EN, algorithm="lead", sentences=1)
    assert summary == [BODY_EN[0]]


def test_undetectable_language_falls_back_to_default_language() -> None:
    text = "Zxq vbn mlk poi. Qwe rty uio asd fgh jkl. Zxc vbn mqw ert yui op."
    assert summarize(text, sentences=1, algorithm="lead", default_language="en")
    with pytest.raises(SummaryError, match="unsupported language"):
        summarize(text, default_language="klingon")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        "123 456 789. 10 11 12.",
        "!!! ??? ... --- ***",
        bytes(range(256)).decode("latin-1") * 4,
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50).decode("utf-8", errors="replace"),
    ],
    ids=["empty", "blank", "numbers", "punctuation", "latin1-bytes", "png-bytes"],
)
def test_non_text_is_a_summary_error(text: str) -> None:
    with pytest.raises(SummaryError):
        summarize(text)


@pytest.mark.parametrize("value", [None, 42, b"bytes"])
def test_non_string_input_is_a_summary_error(value: object) -> None:
    with pytest.raises(SummaryError, match="expected text"):
        summarize(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_one_sentence_text_returns_that_sentence(algorithm: str) -> None:
    assert summarize("Bonjour à tous.", algorithm=algorithm) == ["Bonjour à tous."]
    sentence = "Le Parlement a adopté la loi sur l'eau dans la nuit de mardi."
    assert summarize(sentence, algorithm=algorithm, sentences=3) == [sentence]


def test_huge_text_is_summarized_from_its_beginning() -> None:
    body = " ".join(BODY_FR)
    parts = [
        f"Article {i} : {body.replace('Grenoble', f'Ville{i}').replace('320', str(i))}"
        for i in range(300)
    ]
    text = "\n\n".join(parts)
    assert len(text.split()) > 50_000
    for algorithm in ALGORITHMS:
        summary = summarize(text, algorithm=algorithm, sentences=3, language="fr")
        # `default` chooses how many of its best sentences the default length takes
        assert len(summary) == 3 or (algorithm == "default" and 1 <= len(summary) <= 3)
        assert all(s in text for s in summary)


def test_single_giant_sentence_is_cut_to_max_chars() -> None:
    text = "Le " + "très " * 2000 + "long discours du ministre."
    (summary,) = summarize(text, max_chars=200, language="fr")
    assert len(summary) <= 200
    assert summary.endswith("…")
    assert text.startswith(summary[:-1].rstrip())


@pytest.mark.parametrize("max_chars", [120, 300, 500])
def test_max_chars_bounds_the_whole_summary(max_chars: int) -> None:
    summary = summarize(ARTICLE_FR, sentences=10, max_chars=max_chars)
    assert summary
    assert len("\n".join(summary)) <= max_chars
    assert all(s in BODY_FR for s in summary)


def _tag(number: int) -> str:
    """A made-up word per number, so generated sentences differ in words, not just digits."""
    return "".join("bcdfghjklm"[int(d)] + "a" for d in str(number))


def test_default_budget_fits_a_telegram_message() -> None:
    long_text = " ".join(
        f"La commune de {_tag(i)}ville a voté un budget {_tag(i)}ique "
        f"pour rénover les écoles de {_tag(i)}bourg."
        for i in range(300)
    )
    summary = summarize(long_text, ratio=1.0, language="fr")
    assert len(summary) > 30
    assert 3500 - 400 < len("\n".join(summary)) <= 3500


def test_ratio_overrides_sentences() -> None:
    assert len(summarize(ARTICLE_FR, ratio=0.3, sentences=1)) == 3  # ceil(0.3 * 7)
    assert len(summarize(ARTICLE_FR, ratio=1.0)) == len(BODY_FR) - 3  # repeats dropped
    assert len(summarize(ARTICLE_FR, ratio=0.01)) == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"ratio": 0.0}, {"ratio": 1.5}, {"ratio": -0.2}, {"sentences": 0}, {"max_chars": 0}],
)
def test_bad_sizes_are_summary_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(SummaryError):
        summarize(ARTICLE_FR, **kwargs)  # type: ignore[arg-type]


def test_summaries_are_the_same_from_many_threads() -> None:
    expected = {a: summarize(ARTICLE_FR, algorithm=a) for a in ALGORITHMS}
    jobs = [a for a in ALGORITHMS for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda a: (a, summarize(ARTICLE_FR, algorithm=a)), jobs))
    for algorithm, summary in results:
        assert summary == expected[algorithm]


def test_works_without_any_nltk_data_or_network(tmp_path: Path) -> None:
    """Run every algorithm in a fresh interpreter with an empty HOME and NLTK_DATA, where any
    attempt to load NLTK data, download or open a socket raises."""
    home = tmp_path / "home"
    nltk_data = tmp_path / "nltk_data"
    home.mkdir()
    nltk_data.mkdir()
    script = textwrap.dedent(
        f"""
        import socket
        import nltk
        import nltk.data

        def refuse(*args, **kwargs):
            raise AssertionError(f"tried to fetch data: {{args!r}}")

        nltk.data.load = nltk.data.find = nltk.download = refuse
        socket.socket.connect = refuse
        assert not any(__import__("os").path.isdir(p + "/tokenizers") for p in nltk.data.path)

        from bot.summarize import ALGORITHMS, summarize
        text = open({str(FIXTURES / "article_fr.txt")!r}, encoding="utf-8").read()
        for algorithm in ALGORITHMS:
            assert 1 <= len(summarize(text, algorithm=algorithm)) <= 3, algorithm
        print("ok", len(ALGORITHMS))
        """
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "NLTK_DATA": str(nltk_data),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(ALGORITHMS)}"


@pytest.mark.parametrize("language", ["cs", "de", "en", "es", "fr", "it", "pt", "sk", "sv"])
def test_every_supported_language_has_working_resources(language: str) -> None:
    # Stop words, stemmer and splitter rules must all load offline for each advertised language
    # (sumy's Greek and Polish stemmers need extra packages, so those are not advertised).
    from bot.summarize import supported_languages

    assert language in supported_languages()
    text = (
        "Alpha beta gamma delta epsilon zeta. Eta theta iota kappa lambda mu. "
        "Nu xi omicron pi rho sigma. Tau upsilon phi chi psi omega."
    )
    for algorithm in ALGORITHMS:
        assert len(summarize(text, language=language, algorithm=algorithm, sentences=2)) == 2


def test_advertised_languages_are_exactly_the_working_ones() -> None:
    from bot.summarize import supported_languages

    assert set(supported_languages()) == {"cs", "de", "en", "es", "fr", "it", "pt", "sk", "sv"}
