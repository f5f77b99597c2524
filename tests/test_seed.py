"""The article the project was specified from (`../shared/data/seed-article-fr.txt`).

The file lives outside the repository; these tests run where it is present (a developer's
checkout, CI) and skip elsewhere, since tests must pass without `../shared`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest.files import iter_import_file
from bot.models import NewArticle
from bot.summarize import ALGORITHMS, DEFAULT_MAX_WORDS, split_sentences, summarize
from bot.summarize._tokenize import words

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "seed-article-fr.txt"

pytestmark = pytest.mark.skipif(not SEED.exists(), reason=f"{SEED} not present")


@pytest.fixture(scope="module")
def seed() -> NewArticle:
    (item,) = list(iter_import_file(SEED))
    assert isinstance(item, tuple)
    return item[1]


def test_seed_imports_with_the_specified_fields(seed: NewArticle) -> None:
    assert seed.title == "Poutine et le Kirghizstan : Un accord de coopération"
    assert seed.author == "Louis Joubert"
    assert seed.published == datetime(2025, 11, 26, tzinfo=UTC)
    assert seed.category == "Politique"
    assert seed.text.startswith("Le président russe")
    assert not seed.text.rstrip().endswith("Politique")


def test_seed_body_does_not_repeat_itself(seed: NewArticle) -> None:
    sentences = split_sentences(seed.text, "fr")
    assert len(sentences) == len(set(sentences)) >= 5


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_seed_summary_is_three_distinct_body_sentences(algorithm: str) -> None:
    raw = SEED.read_text(encoding="utf-8")
    summary = summarize(raw, algorithm=algorithm, sentences=3, max_words=None)
    assert len(summary) == 3 == len(set(summary))
    _assert_body_sentences(raw, summary)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_seed_summary_at_the_default_length(algorithm: str) -> None:
    """The default length: at most three whole body sentences within the word budget."""
    raw = SEED.read_text(encoding="utf-8")
    summary = summarize(raw, algorithm=algorithm)
    assert 1 <= len(summary) <= 3 and len(summary) == len(set(summary))
    if len(summary) > 1:
        assert sum(len(words(s, "fr")) for s in summary) <= DEFAULT_MAX_WORDS
    _assert_body_sentences(raw, summary)


def _assert_body_sentences(raw: str, summary: list[str]) -> None:
    for sentence in summary:
        assert sentence in raw
        assert "Louis Joubert" not in sentence and "Poutine et le Kirghizstan" not in sentence
        assert sentence != "Politique" and not sentence.endswith("Politique")
    # non-overlapping: no sentence contains another
    assert not any(a in b for a in summary for b in summary if a is not b)
