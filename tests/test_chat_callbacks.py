"""Button payloads round-trip and always fit Telegram's 64 bytes."""

from __future__ import annotations

import pytest

from bot.chat.callbacks import (
    MAX_BYTES,
    Action,
    FeedAction,
    OpenCategory,
    OpenFullText,
    OpenSummary,
    OpenView,
    SetDelivery,
    SetLanguage,
    SetOption,
    ShowDigest,
    ShowFullText,
    ShowLatest,
    ShowSearch,
    ShowSummary,
    Subscribe,
    Unsubscribe,
    decode,
    encode,
    truncate_utf8,
)
from bot.errors import StaleButton

BIG = 999_999_999_999  # the largest id a payload carries (12 digits)


@pytest.mark.parametrize(
    "action",
    [
        ShowLatest(0, 5, None),
        ShowLatest(BIG, 20, BIG),
        OpenCategory(BIG),
        ShowSearch("bourse de paris", 40, 5),
        ShowSearch("a:b:c", 0, 5),
        OpenSummary(BIG),
        ShowSummary(BIG, 20),
        ShowSummary(7, 0),
        OpenFullText(BIG),
        ShowFullText(BIG, 9999),
        SetOption("n", "5"),
        SetOption("a", "edmundson"),
        SetOption("l", "en"),
        SetLanguage("fr"),
        OpenView("latest"),
        OpenView("categories"),
        OpenView("settings"),
        Subscribe(BIG),
        Unsubscribe(BIG),
        ShowDigest(BIG, 9999),
        SetDelivery("m", "digest"),
        SetDelivery("t", "08:00"),
        SetDelivery("q", "22:00-07:00"),
        SetDelivery("q", ""),
        SetDelivery("p", "1"),
        *(FeedAction(kind, BIG) for kind in ("p", "r", "e", "d", "x", "X")),
    ],
)
def test_round_trip_within_64_bytes(action: Action) -> None:
    data = encode(action)
    assert len(data.encode()) <= MAX_BYTES
    assert decode(data) == action


@pytest.mark.parametrize("query", ["é" * 100, "🙂" * 40, "économie " * 20, "a" * 200, "x:y" * 30])
def test_long_queries_are_cut_at_a_character_boundary(query: str) -> None:
    data = encode(ShowSearch(query, 12345, 20))
    raw = data.encode()
    assert len(raw) <= MAX_BYTES
    raw.decode("utf-8")  # never half a character
    decoded = decode(data)
    assert isinstance(decoded, ShowSearch)
    assert query.startswith(decoded.query) and decoded.query
    assert (decoded.offset, decoded.size) == (12345, 20)


def test_truncate_utf8() -> None:
    assert truncate_utf8("été", 4) == "ét"
    assert truncate_utf8("été", 3) == "ét"
    assert truncate_utf8("été", 2) == "é"
    assert truncate_utf8("été", 1) == ""
    assert truncate_utf8("abc", 10) == "abc"
    assert truncate_utf8("🙂x", 3) == ""


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "garbage",
        "l:a:5:",
        "l:0:5",
        "S:-1",
        "S:1²",
        "S: 1",
        "A:z:1",
        "A:r:",
        "A:r:-1",
        "A:r",
        "S:1234567890123",
        "s:1",
        "f:1:2:3",
        "o:z:1",
        "o:n",
        "o:n:abc",
        "o:n:-1",
        "v:nope",
        "q:1:5",
        "n:",
        "x:abc",
        "g:1",
        "d:m:hourly",
        "d:t:8h",
        "d:q:22-7",
        "d:p:2",
        "d:z:1",
    ],
)
def test_foreign_or_old_payloads_are_stale_buttons(data: str | None) -> None:
    with pytest.raises(StaleButton) as caught:
        decode(data)
    assert caught.value.data == data


def test_a_payload_that_cannot_fit_is_a_bug() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        encode(SetOption("a", "x" * 80))
