"""The Decider's rules (bot.ingest.decide), with plain values: no network, no store."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.errors import FeedParseError, FetchError, IngestError
from bot.ingest.decide import MAX_BACKOFF, MAX_RETRY_AFTER, Decider
from bot.ingest.extract import PageContent
from bot.ingest.parse import FeedEntry
from bot.models import Feed, PendingPage

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
FEED = Feed(id=1, url="https://ex.org/rss", category=None, language="fr", interval_minutes=None)
DECIDER = Decider(default_interval_minutes=30, max_failures=5)


def fail(feed: Feed, times: int, error: IngestError | None = None) -> list[Feed]:
    """Apply *times* failures in a row; the feed after each."""
    seen = []
    for _ in range(times):
        state = DECIDER.after_failure(feed, NOW, error or FetchError("HTTP 500"))
        feed = dataclasses.replace(
            feed,
            failures=state.failures,
            enabled=state.enabled,
            last_error=state.last_error,
            next_fetch=state.next_fetch,
        )
        seen.append(feed)
    return seen


def test_success_schedules_the_next_fetch_after_the_interval() -> None:
    state = DECIDER.after_success(FEED, NOW, etag='"v2"', last_modified="x", title="T")
    assert state.next_fetch == NOW + timedelta(minutes=30)
    assert (state.failures, state.last_error, state.enabled) == (0, None, True)
    assert (state.etag, state.last_modified, state.title) == ('"v2"', "x", "T")
    quick = dataclasses.replace(FEED, interval_minutes=5, failures=3, last_error="old")
    again = DECIDER.after_success(quick, NOW, etag=None, last_modified=None)
    assert again.next_fetch == NOW + timedelta(minutes=5) and again.failures == 0


def test_failures_back_off_exponentially_then_disable() -> None:
    feeds = fail(dataclasses.replace(FEED, etag='"v1"'), 5)
    delays = [f.next_fetch - NOW for f in feeds if f.next_fetch]
    assert delays == [timedelta(minutes=30 * 2**n) for n in range(5)]
    assert [f.failures for f in feeds] == [1, 2, 3, 4, 5]
    assert [f.enabled for f in feeds] == [True, True, True, True, False]
    assert feeds[-1].last_error == "HTTP 500"
    state = DECIDER.after_failure(feeds[0], NOW, FeedParseError("not a feed"))
    assert state.etag == '"v1"'  # validators kept: the next try must not be a blind 304


def test_back_off_is_capped_and_honours_retry_after() -> None:
    patient = Decider(default_interval_minutes=60, max_failures=100)
    state = patient.after_failure(dataclasses.replace(FEED, failures=20), NOW, FetchError("x"))
    assert state.next_fetch == NOW + MAX_BACKOFF
    later = DECIDER.after_failure(FEED, NOW, FetchError("HTTP 429", retry_after=7200))
    assert later.next_fetch == NOW + timedelta(hours=2)
    capped = DECIDER.after_failure(FEED, NOW, FetchError("HTTP 503", retry_after=10**9))
    assert capped.next_fetch == NOW + MAX_RETRY_AFTER


def entry(n: int, **kw: object) -> FeedEntry:
    fields: dict[str, object] = {
        "title": f"Titre {n}",
        "text": "Un chapeau.",
        "guid": f"g{n}",
        "url": f"https://ex.org/{n}",
        "teaser": True,
    }
    fields.update(kw)
    return FeedEntry(**fields)  # type: ignore[arg-type]


def test_new_entries_skip_stored_claimed_and_repeated() -> None:
    claimed: set[str] = set()
    entries = [
        entry(1),
        entry(2),
        entry(3, url="https://ex.org/3?utm_source=rss"),
        entry(4, guid="g1"),  # repeats 1 by guid
        entry(5, url="https://ex.org/2/"),  # repeats 2 by normalized URL
        entry(6),
    ]
    fresh, duplicates = DECIDER.new_entries(entries, {"g6", "https://ex.org/9"}, claimed)
    assert [e.title for e in fresh] == ["Titre 1", "Titre 2", "Titre 3"] and duplicates == 3
    # another feed of the same site, same run: the same story by URL is not taken twice
    other, dup = DECIDER.new_entries([entry(7, guid="x", url="https://ex.org/3")], set(), claimed)
    assert other == [] and dup == 1


def test_category_prefers_feed_then_tags_then_page() -> None:
    page = PageContent(text="x", section="Monde")
    tagged = entry(1, tags=("Politique", "France"))
    assert DECIDER.category(dataclasses.replace(FEED, category="Économie"), tagged, page) == (
        "Économie"
    )
    assert DECIDER.category(FEED, tagged, page) == "Politique"
    assert DECIDER.category(FEED, entry(1), page) == "Monde"
    assert DECIDER.category(FEED, entry(1), None) is None


def test_article_merges_page_over_feed() -> None:
    published = datetime(2025, 6, 9, 16, 30, tzinfo=UTC)
    teaser = entry(1, author="Feed Author", published=published)
    page = PageContent(
        text="Le texte complet. " * 20,
        title="Titre de la page",
        author=None,
        published=datetime(2025, 6, 9, tzinfo=UTC),
        section="Monde",
    )
    article = DECIDER.article(FEED, teaser, page)
    assert (article.title, article.author, article.published) == (
        "Titre de la page",
        "Feed Author",  # the page has none: the feed's is kept
        published,  # the feed's has the time of day
    )
    assert article.text == page.text and article.category == "Monde"
    assert (article.language, article.feed_id, article.page_error) == ("fr", 1, None)

    stub = DECIDER.article(FEED, entry(2, text="Un chapeau plus long que la page."), page)
    assert stub.text == page.text
    short = dataclasses.replace(page, text="Abonnez-vous.")
    assert DECIDER.article(FEED, entry(3, text="Un chapeau bien plus long."), short).text == (
        "Un chapeau bien plus long."
    )


def test_failed_page_keeps_the_teaser_marked() -> None:
    article = DECIDER.article(FEED, entry(1), None, "HTTP 503 Service Unavailable")
    assert article.text == "Un chapeau." and article.page_error == "HTTP 503 Service Unavailable"
    bare = DECIDER.article(FEED, entry(2, text=""), None, "timed out after 20s")
    assert bare.text == "Titre 2" and bare.page_error  # title-only: kept, retried later
    full = DECIDER.article(FEED, entry(3, teaser=False), None, None)
    assert full.page_error is None
    assert not DECIDER.needs_page(entry(4, url=None))
    assert [DECIDER.give_up_page(n) for n in (1, 2, 3)] == [False, False, True]


def test_completion_of_a_pending_teaser() -> None:
    pending = PendingPage(
        id=9,
        url="https://ex.org/9",
        title="Titre",
        text="Un chapeau.",
        author=None,
        published=None,
        category=None,
        language="fr",
        feed_id=1,
        attempts=1,
    )
    page = PageContent(
        text="Le texte complet de l'article.",
        title="Titre complet",
        author="Ann",
        published=NOW,
        section="Sport",
    )
    done = DECIDER.completion(FEED, pending, page)
    assert (done.text, done.title, done.author, done.published, done.category) == (
        page.text,
        "Titre complet",
        "Ann",
        NOW,
        "Sport",
    )
    categorized = dataclasses.replace(pending, category="Monde", published=NOW)
    again = DECIDER.completion(FEED, categorized, page)
    assert again.category is None and again.published is None  # nothing to change
