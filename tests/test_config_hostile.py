"""Hostile input for the config loader (issue 13): whatever a file holds, `load_config` either
loads it or raises ConfigError with one line naming a key, never another exception."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config, load_config
from bot.errors import ConfigError

# Every settable key, as (table path, key): generated documents aim at real keys most of the
# time, so the values (not only "unknown key") are what is exercised.
KEYS: list[tuple[tuple[str, ...], str]] = []


def _collect(cls: Any, where: tuple[str, ...]) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        tp = hints[f.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = args[0] if args and typing.get_origin(tp) is not tuple else tp
        if dataclasses.is_dataclass(inner):
            _collect(inner, (*where, f.name))
        else:
            KEYS.append((where, f.name))


_collect(Config, ())

odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=300
) | st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\u202e",
        "nan",
        "https://",
        "ftp://x",
        "postgresql://u:p@h:abc/d",
        "postgresql+psycopg2://u@h/d?sslmode=require",
        "sqlite:///" + "x/" * 200,
        "Europe/../../etc",
        "25:99",
        "x" * 5000,
    ]
)
odd_numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.floats(
    allow_nan=True, allow_infinity=True
)
scalars = odd_text | odd_numbers | st.booleans() | st.datetimes() | st.dates()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 4))):
        where, key = draw(st.sampled_from(KEYS))
        if where[:1] == ("feeds",) or key == "feeds":
            doc["feeds"] = draw(
                st.lists(
                    st.dictionaries(
                        st.sampled_from(["url", "category", "language", "interval_minutes"]),
                        values,
                        max_size=4,
                    ),
                    max_size=2,
                )
            )
            continue
        table = doc
        for part in where:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                break
        else:
            table[key] = draw(values)
    if draw(st.booleans()):
        doc[draw(odd_text)] = draw(values)
    return doc


def _toml(value: Any) -> str:
    """A TOML inline value (tomllib has no writer)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(_escape(c) for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    return value.isoformat()  # datetime, date


def _escape(c: str) -> str:
    if c in '"\\' or ord(c) < 32 or ord(c) == 0x7F:
        return f"\\u{ord(c):04x}"
    return c


def _document(doc: dict[str, Any]) -> str:
    return "\n".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in doc.items()) + "\n"


TABLES = "|".join(f.name for f in dataclasses.fields(Config) if f.name != "source")
# After "FILE: ": a key path (`delivery.poll_seconds`, `feeds[0].url`), or an unknown key
# quoted as generated, then ": " and the reason.
_KNOWN = rf"({TABLES})(\[\d+\])?(\.[\w-]+(\[\d+\])?)*"  # delivery.poll_seconds, feeds[0].url
_UNKNOWN = r"([\w.-]+\.)?([\w-]+|'.*'|\".*\")"  # an unknown key, quoted when not a plain word
NAMING_A_KEY = re.compile(rf"({_KNOWN}|{_UNKNOWN}): .+")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
def test_the_loader_loads_or_names_the_key(tmp_path_factory: Any, doc: dict[str, Any]) -> None:
    path = Path(tmp_path_factory.mktemp("cfg")) / "config.toml"
    text = _document(doc)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # a generated key TOML cannot spell (our writer is naive): not the loader's job
    path.write_text(text, encoding="utf-8")
    try:
        load_config(str(path), env={})
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(f"{path}: "), message
        assert NAMING_A_KEY.fullmatch(message.removeprefix(f"{path}: ")), message


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200))
def test_random_bytes_are_loaded_or_one_line(tmp_path_factory: Any, raw: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("cfg")) / "config.toml"
    path.write_bytes(raw)
    try:
        load_config(str(path), env={})
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"{path}: ")


@settings(max_examples=200, deadline=None)
@given(url=odd_text)
def test_any_database_url_from_the_environment_is_loaded_or_one_line(
    tmp_path_factory: Any, url: str
) -> None:
    try:
        load_config(None, env={"NEWSBOT_CONFIG": "", "NEWSBOT_DATABASE_URL": url})
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("NEWSBOT_DATABASE_URL: store.url")
