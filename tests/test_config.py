"""Configuration: defaults with no file, the example file, env overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_FEEDS, DEFAULT_STORE_URL, load_config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_no_file_gives_working_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.source == "built-in defaults"
    assert config.store.url == DEFAULT_STORE_URL
    assert config.feeds == DEFAULT_FEEDS
    langs = {f.language for f in config.feeds}
    assert {"fr", "en"} <= langs and len({f.category for f in config.feeds}) >= 4
    with pytest.raises(ConfigError, match=r"telegram\.token: missing"):
        config.require_token()


def test_example_file_loads_and_sets_every_table() -> None:
    config = load_config(str(ROOT / "config.example.toml"), env={})
    assert config.summary.sentences == 3 and config.ingest.max_bytes == 5_000_000
    assert [f.category for f in config.feeds] == ["Économie", "World"]
    assert config.feeds[0].interval_minutes == 15


def test_file_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("[summary]\nsentences = 4\n")
    other = tmp_path / "other.toml"
    other.write_text("[summary]\nsentences = 5\n")
    assert load_config(env={}).summary.sentences == 4
    assert load_config(env={"NEWSBOT_CONFIG": str(other)}).summary.sentences == 5
    assert load_config(str(other), env={"NEWSBOT_CONFIG": "nope.toml"}).summary.sentences == 5


def test_environment_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[telegram]\ntoken = "from-file"\n[store]\nurl = "sqlite:///a.db"\n'
        "keep_articles_days = 90\n",
    )
    config = load_config(
        path, env={"NEWSBOT_TOKEN": "123:ABC", "NEWSBOT_DATABASE_URL": "postgresql://x@h/db"}
    )
    assert config.require_token() == "123:ABC"
    assert config.store.url == "postgresql://x@h/db"
    assert config.store.keep_articles_days == 90  # the URL replaced, not the rest of [store]


def test_token_is_not_in_repr(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\ntoken = "123456:SECRET-TOKEN"\n')
    assert "SECRET" not in repr(load_config(path, env={}))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[store]\nuri = 'x'\n",
            r"store\.uri: unknown key \(expected one of: keep_articles_days, "
            r"keep_deliveries_days, url\)",
        ),
        ("[stor]\n", r"stor: unknown key"),
        ("[store]\nkeep_articles_days = -1\n", r"store\.keep_articles_days: expected a number"),
        (
            "[summary]\nsentences = 'three'\n",
            r"summary\.sentences: expected an integer, got 'three'",
        ),
        ("[summary]\nsentences = true\n", r"summary\.sentences: expected an integer"),
        ("[summary]\nsentences = 0\n", r"summary\.sentences: expected an integer from 1 to 20"),
        ("[telegram]\nadmins = [1, 'x']\n", r"telegram\.admins\[1\]: expected an integer"),
        ("[telegram]\nadmins = 5\n", r"telegram\.admins: expected a list of integers"),
        ("[[feeds]]\ncategory = 'X'\n", r"feeds\[0\]\.url: missing, expected a string"),
        ("[[feeds]]\nurl = 'ftp://x'\n", r"feeds\[0\]\.url: expected an http\(s\) URL"),
        ("[store]\nurl = 'mysql://x'\n", r"store\.url: expected an sqlite:/// or postgresql://"),
        ("[telegram.webhook]\nurl = 'http://x'\n", r"telegram\.webhook\.url: expected an https://"),
        ("[ingest]\ntimeout_seconds = -1\n", r"ingest\.timeout_seconds: expected a positive"),
        ("this is = = not toml", r"not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, env={})
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(path)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "absent.toml"), env={})


def test_integers_are_accepted_for_floats(tmp_path: Path) -> None:
    assert (
        load_config(
            write(tmp_path, "[ingest]\ntimeout_seconds = 5\n"), env={}
        ).ingest.timeout_seconds
        == 5.0
    )


def test_tuning_keys_default_to_todays_values(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), env={})
    assert config.ingest.feed_concurrency == 8 and config.ingest.page_concurrency == 8
    assert config.ingest.tick_seconds == 60
    assert config.delivery.push_max_age_hours == 48
    example = load_config(str(ROOT / "config.example.toml"), env={})
    assert (example.ingest, example.delivery) == (config.ingest, config.delivery)


def test_tuning_keys_are_read(tmp_path: Path) -> None:
    body = (
        "[ingest]\nfeed_concurrency = 3\npage_concurrency = 2\ntick_seconds = 30\n"
        "[delivery]\npush_max_age_hours = 12\n"
    )
    config = load_config(write(tmp_path, body), env={})
    assert (config.ingest.feed_concurrency, config.ingest.page_concurrency) == (3, 2)
    assert config.ingest.tick_seconds == 30 and config.delivery.push_max_age_hours == 12


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("ingest", "feed_concurrency", "0"),
        ("ingest", "feed_concurrency", "101"),
        ("ingest", "page_concurrency", "-1"),
        ("ingest", "tick_seconds", "0"),
        ("ingest", "tick_seconds", "86400"),
        ("ingest", "tick_seconds", "1.5"),
        ("delivery", "push_max_age_hours", "0"),
        ("delivery", "push_max_age_hours", '"48"'),
    ],
)
def test_a_bad_tuning_value_names_its_key(tmp_path: Path, table: str, key: str, value: str) -> None:
    path = write(tmp_path, f"[{table}]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"^{path}: {table}\.{key}: expected") as caught:
        load_config(path, env={})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
@pytest.mark.parametrize(
    "key", ["ingest.timeout_seconds", "delivery.poll_seconds", "links.timeout_seconds"]
)
def test_no_number_key_accepts_nan_or_infinity(tmp_path: Path, key: str, value: str) -> None:
    table, name = key.split(".")
    path = write(tmp_path, f"[{table}]\n{name} = {value}\n")
    with pytest.raises(ConfigError, match=rf"{table}\.{name}: expected a finite number"):
        load_config(path, env={})


# -- values that used to pass the check and fail later (issue 13, part 5) -----------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[telegram]\napi_base_url = "ftp://api.example.org/bot"', "telegram.api_base_url"),
        ('[telegram]\napi_base_url = "api.telegram.org/bot"', "telegram.api_base_url"),
        (
            '[telegram.webhook]\nurl = "https://x.example/h"\nport = -1\nsecret_token = "s"',
            "telegram.webhook.port: expected a port from 1 to 65535",
        ),
        (
            '[telegram.webhook]\nurl = "https://x.example/h"\nport = 70000\nsecret_token = "s"',
            "telegram.webhook.port",
        ),
        (
            '[telegram.webhook]\nurl = "https://x.example/h"\nsecret_token = "has space!"',
            "telegram.webhook.secret_token: expected 1 to 256 characters",
        ),
        (
            f'[telegram.webhook]\nurl = "https://x.example/h"\nsecret_token = "{"a" * 257}"',
            "telegram.webhook.secret_token",
        ),
        ('[store]\nurl = "postgresql://u:pw@db.example:abc/news"', "store.url: the port"),
        ("[ingest]\ninterval_minutes = 99999999999999999999", "ingest.interval_minutes"),
        ('[[feeds]]\nurl = "https://x.example/f"\ninterval_minutes = 99999999999', "feeds[0]"),
        ("[links]\nrefetch_after_hours = 99999999999999", "links.refetch_after_hours"),
        ("[delivery]\npoll_seconds = 1e300", "delivery.poll_seconds"),
        ('[summary]\nlanguage = "fr\\u0000"', "summary.language: control characters"),
    ],
)
def test_values_that_would_fail_later_are_refused_at_load(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(write(tmp_path, body), env={})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_secret_token_is_never_echoed(tmp_path: Path) -> None:
    body = '[telegram]\ntoken = 12345678\n[telegram.webhook]\nurl = "https://x.example/h"\n'
    with pytest.raises(ConfigError, match=r"telegram\.token") as caught:
        load_config(write(tmp_path, body), env={})
    assert "12345678" not in str(caught.value)
    body = '[telegram.webhook]\nurl = "https://x.example/h"\nsecret_token = "SEKRIT value"\n'
    with pytest.raises(ConfigError, match="secret_token") as caught:
        load_config(write(tmp_path, body), env={})
    assert "SEKRIT" not in str(caught.value)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[summary]\nlanguage = "été"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        load_config(str(path), env={})
    assert "\n" not in str(caught.value)


def test_a_bad_port_in_the_database_url_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"NEWSBOT_DATABASE_URL: store\.url: the port"):
        load_config(write(tmp_path, ""), env={"NEWSBOT_DATABASE_URL": "postgresql://h:x/db"})
