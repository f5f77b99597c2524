"""`[fetch]`: one place for what the guard allows, with `[links] allowed_*` as a deprecated
alias; errors are one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, FetchConfig, IngestConfig, LinksConfig, load_config
from bot.errors import ConfigError, FetchError
from bot.ingest.fetch import Fetcher
from tests.feedserver import FeedServer
from tests.helpers import FakeClock


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_defaults_allow_public_addresses_on_80_and_443_without_a_proxy() -> None:
    config = Config()
    assert config.fetch == FetchConfig((80, 443), (), "")
    assert config.allowed_targets == config.fetch


def test_fetch_table_sets_both_links_and_ingest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[fetch]\nallowed_ports = [80, 443, 8080]\nallowed_networks = ["10.0.0.0/8"]\n'
        'proxy = "http://proxy.internal:3128"\n',
    )
    config = load_config(path, env={})
    assert config.fetch.allowed_ports == (80, 443, 8080)
    assert config.fetch.proxy == "http://proxy.internal:3128"
    # The alias mirrors it, so whatever reads `[links]` (the chat's "port" answer) agrees.
    assert config.links.allowed_ports == (80, 443, 8080)
    assert config.links.allowed_networks == ("10.0.0.0/8",)
    fetcher = Fetcher.from_config(config, clock=FakeClock())
    assert fetcher.policy.allowed_ports == {80, 443, 8080}
    assert [str(n) for n in fetcher.policy.allowed_networks] == ["10.0.0.0/8"]


def test_links_allowed_keys_still_work_as_a_deprecated_alias(tmp_path: Path) -> None:
    path = write(tmp_path, '[links]\nallowed_networks = ["192.168.1.0/24"]\n')
    config = load_config(path, env={})
    assert config.fetch.allowed_networks == ("192.168.1.0/24",)
    assert config.allowed_targets.allowed_networks == ("192.168.1.0/24",)
    # Built in code rather than loaded (the tests do), the alias is honoured too.
    built = Config(links=LinksConfig(allowed_ports=(80, 8443)))
    assert built.allowed_targets.allowed_ports == (80, 8443)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[links]\nallowed_ports = [80]\n[fetch]\nallowed_ports = [443]\n",
            r"links\.allowed_ports: deprecated alias of fetch\.allowed_ports, which is set to "
            r"another value; keep only fetch\.allowed_ports",
        ),
        ("[fetch]\nallowed_ports = [0]\n", r"fetch\.allowed_ports\[0\]: expected a port"),
        ("[links]\nallowed_ports = [70000]\n", r"fetch\.allowed_ports\[0\]: expected a port"),
        (
            "[fetch]\nallowed_networks = ['intranet']\n",
            r"fetch\.allowed_networks\[0\]: expected a network like 10\.0\.0\.0/8",
        ),
        ("[fetch]\nproxy = 'socks://x'\n", r"fetch\.proxy: expected an http:// or https:// URL"),
        ("[fetch]\nproxies = 'x'\n", r"fetch\.proxies: unknown key"),
    ],
)
def test_a_bad_fetch_key_is_one_line_naming_it(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, env={})
    assert "\n" not in str(info.value)


def test_proxy_variables_of_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    fetcher = Fetcher.from_config(Config(), clock=FakeClock())
    for client in (fetcher._trusted, fetcher._guarded):
        assert not client.trust_env
        assert not client._mounts  # no proxy transport mounted from the environment


async def test_an_explicit_proxy_gets_only_what_the_guard_allowed() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return {"news.example": ["93.184.216.34"], "intranet.example": ["10.0.0.5"]}[host]

    with FeedServer() as proxy:
        fetcher = Fetcher(
            IngestConfig(timeout_seconds=2.0), clock=FakeClock(), resolver=resolve, proxy=proxy.base
        )
        async with fetcher:
            for url in ("http://intranet.example/", "http://10.0.0.5/", "http://127.0.0.1:5432/"):
                with pytest.raises(FetchError) as caught:
                    await fetcher.fetch(url)
                assert caught.value.refused
            with pytest.raises(FetchError, match="HTTP 404"):  # the proxy's answer
                await fetcher.fetch("http://news.example/story")
    assert [r.path for r in proxy.requests] == ["http://news.example/story"]
