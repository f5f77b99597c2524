"""The push rules (bot.deliver.rules), pure: the filter grammar, what a filter matches, which
articles are news, and which subscriptions get an article."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import DeliveryConfig
from bot.deliver.rules import (
    MAX_FILTER_LENGTH,
    MAX_FILTERS,
    PUSH_MAX_AGE,
    PushRules,
    filters_match,
    parse_filters,
)
from bot.errors import BadFilter, TooManyFilters
from bot.models import Subscriber
from bot.store.contract import Audience
from bot.text import fold

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
TITLE = "Le pétrole et les élections"
TEXT = "La Bourse s'inquiète des prix du baril."

# -- the grammar -------------------------------------------------------------------------------


def test_words_get_a_sign_and_duplicates_go() -> None:
    assert parse_filters(["pétrole", "+gaz", "-bourse", " pétrole ", "+pétrole"]) == (
        "+pétrole",
        "+gaz",
        "-bourse",
    )
    assert parse_filters([]) == ()
    assert parse_filters(["aujourd'hui", "-week-end"]) == ("+aujourd'hui", "-week-end")


@pytest.mark.parametrize("word", ["pét*", "+", "-", "a|b", "+-x", "(x)", "x" * 41])
def test_anything_but_a_plain_word_is_refused(word: str) -> None:
    with pytest.raises(BadFilter) as caught:
        parse_filters(["ok", word])
    assert caught.value.word == word


def test_a_word_of_the_longest_length_is_taken() -> None:
    assert parse_filters(["x" * MAX_FILTER_LENGTH]) == ("+" + "x" * MAX_FILTER_LENGTH,)


def test_too_many_filters() -> None:
    assert len(parse_filters([f"w{i}" for i in range(MAX_FILTERS)])) == MAX_FILTERS
    with pytest.raises(TooManyFilters) as caught:
        parse_filters([f"w{i}" for i in range(MAX_FILTERS + 1)])
    assert caught.value.limit == MAX_FILTERS


# -- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((), True),
        (("+petrole",), True),  # accents folded
        (("+PÉTROLE",), True),  # and case
        (("pétrole",), True),  # no sign means "+"
        (("+élection",), True),  # word prefix: élections
        (("+lection",), False),  # not inside a word
        (("-BOURSE",), False),
        (("-bours",), False),  # an excluded word start excludes too
        (("+pétrole", "-gaz"), True),
        (("+pétrole", "+gaz"), False),
        (("+prix du",), True),  # several words: in that order
        (("+du prix",), False),
        (("+", "-"), True),  # empty filters are ignored
    ],
)
def test_filters_match(filters: tuple[str, ...], expected: bool) -> None:
    assert filters_match(filters, fold(f"{TITLE}\n{TEXT}")) is expected


def test_what_parse_filters_gives_is_what_filters_match_takes() -> None:
    folded = fold(f"{TITLE}\n{TEXT}")
    assert filters_match(parse_filters(["Pétrole", "-gaz"]), folded)
    assert not filters_match(parse_filters(["pétrole", "-bourse"]), folded)


# -- who gets an article -----------------------------------------------------------------------


def sub(chat_id: int, *filters: str, since: datetime = NOW - timedelta(days=1)) -> Subscriber:
    return Subscriber(chat_id, filters, since)


def recipients(
    rules: PushRules,
    subscribers: list[Subscriber],
    *,
    published: datetime | None = NOW,
    arrived: datetime = NOW,
) -> list[int]:
    return rules.recipients(
        title=TITLE, text=TEXT, published=published, arrived=arrived, subscribers=subscribers
    )


def test_push_rules_are_the_stores_audience() -> None:
    rules: Audience = PushRules()
    assert isinstance(rules, PushRules) and rules.push_max_age == PUSH_MAX_AGE == timedelta(days=2)


def test_filters_choose_among_subscribers_in_their_order() -> None:
    subscribers = [sub(3), sub(1, "+pétrole", "-gaz"), sub(2, "-bourse"), sub(4, "+baril")]
    assert recipients(PushRules(), subscribers) == [3, 1, 4]
    assert recipients(PushRules(), []) == []


@pytest.mark.parametrize(
    ("age", "pushed"),
    [
        (timedelta(0), True),
        (-timedelta(hours=5), True),  # dated in the future
        (PUSH_MAX_AGE, True),
        (PUSH_MAX_AGE + timedelta(seconds=1), False),
        (timedelta(days=400), False),
    ],
)
def test_age_at_arrival(age: timedelta, pushed: bool) -> None:
    rules = PushRules()
    assert rules.is_news(NOW - age, NOW) is pushed
    assert recipients(rules, [sub(1)], published=NOW - age) == ([1] if pushed else [])


def test_an_undated_article_is_news_and_age_counts_from_arrival_not_now() -> None:
    rules = PushRules()
    assert rules.is_news(None, NOW)
    # A teaser that arrived fresh and is completed days later is still judged at its arrival.
    assert recipients(rules, [sub(1)], published=NOW, arrived=NOW) == [1]


def test_push_max_age_is_a_parameter() -> None:
    archive = NOW - timedelta(days=30)
    assert recipients(PushRules(), [sub(1)], published=archive) == []
    rules = PushRules(push_max_age=timedelta(days=31))
    assert recipients(rules, [sub(1)], published=archive) == [1]


def test_a_subscription_gets_what_arrives_from_its_creation_on() -> None:
    subscribers = [sub(1, since=NOW - timedelta(seconds=1)), sub(2, since=NOW), sub(3, since=NOW)]
    later = [*subscribers, sub(4, since=NOW + timedelta(seconds=1))]
    assert recipients(PushRules(), later) == [1, 2, 3]


def test_the_push_age_comes_from_the_config() -> None:
    assert PushRules.from_config(DeliveryConfig()) == PushRules()  # 48 hours, the default
    day = PushRules.from_config(DeliveryConfig(push_max_age_hours=24))
    assert day.push_max_age == timedelta(hours=24)
    arrived = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert not day.is_news(arrived - timedelta(hours=25), arrived)
    assert PushRules().is_news(arrived - timedelta(hours=25), arrived)
