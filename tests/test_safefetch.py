"""The SSRF rules of `bot.ingest.safefetch`, refusal by refusal.

No test sends a packet anywhere but 127.0.0.1: names are answered by a resolver the test
controls, so refusing 10.0.0.1 or 169.254.169.254 is proven before any connection is made (the
transport of those tests fails the test if it is ever used), and the requests that would go to
a public address are caught by `httpx.MockTransport`. Real fetches go to a loopback server,
allowed through `links.allowed_networks = ["127.0.0.1/32"]` as tests alone configure it.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket
from collections.abc import Callable, Iterator, Sequence

import httpx
import pytest

from bot.config import LinksConfig
from bot.errors import LinkError
from bot.ingest.safefetch import FetchPolicy, SafeFetcher, refusal
from tests.feedserver import FeedServer, gzip_bomb

PAGE = (
    "<html lang='fr'><head><title>Le port de Marseille s’agrandit</title></head><body>"
    "<article><h1>Le port de Marseille s’agrandit</h1>"
    + "".join(
        f"<p>Paragraphe {i} sur les travaux du port et les quais de la ville.</p>" for i in range(8)
    )
    + "</article></body></html>"
)


class Resolver:
    """DNS as the test says: name -> addresses; records every question."""

    def __init__(self, answers: dict[str, Sequence[str]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a refused URL was fetched: {request.url}")


def refusing_fetcher(resolver: Resolver, config: LinksConfig | None = None) -> SafeFetcher:
    """A fetcher whose transport fails the test if it is ever asked to connect."""
    return SafeFetcher(
        config or LinksConfig(), resolver=resolver, transport=httpx.MockTransport(no_network)
    )


async def refused(fetcher: SafeFetcher, url: str) -> LinkError:
    with pytest.raises(LinkError) as caught:
        await fetcher.fetch(url)
    return caught.value


# -- which addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "0.0.0.0",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "169.254.0.1",
        "100.64.0.1",  # CGNAT
        "100.127.255.254",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2001::1",  # Teredo
        "100::1",
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal(ip) is not None
    with pytest.raises(LinkError) as caught:
        FetchPolicy().check(ip)
    assert caught.value.reason == "address"


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
    FetchPolicy().check(ipaddress.ip_address(address))


def test_allowed_networks_exempt_only_themselves() -> None:
    policy = FetchPolicy(allowed_networks=["127.0.0.1/32"])
    policy.check(ipaddress.ip_address("127.0.0.1"))
    policy.check(ipaddress.ip_address("::ffff:127.0.0.1"))
    for other in ("127.0.0.2", "10.0.0.1", "::1"):
        with pytest.raises(LinkError):
            policy.check(ipaddress.ip_address(other))
    # The default configuration allows no private network at all.
    with pytest.raises(LinkError):
        FetchPolicy.from_config(LinksConfig()).check(ipaddress.ip_address("127.0.0.1"))
    assert LinksConfig().allowed_networks == ()


# -- which URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/file", "not_http"),
        ("file:///etc/passwd", "not_http"),
        ("gopher://example.org:70/", "not_http"),
        ("javascript:alert(1)", "not_http"),
        ("example.org/article", "not_http"),
        ("http:///no-host", "not_http"),
        ("http://user:secret@example.org/", "credentials"),
        ("http://example.org:8080/", "port"),
        ("https://example.org:22/", "port"),
        ("http://example.org:6379/", "port"),
    ],
)
async def test_bad_urls_are_refused_before_any_lookup(url: str, reason: str) -> None:
    resolver = Resolver({"example.org": ["93.184.216.34"]})
    error = await refused(refusing_fetcher(resolver), url)
    assert error.reason == reason
    assert resolver.asked == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",
        "http://127.1/",
        "http://0/",
        "http://10.0.0.1/admin",
    ],
)
async def test_address_literals_are_checked_without_dns(url: str) -> None:
    resolver = Resolver()
    error = await refused(refusing_fetcher(resolver), url)
    assert error.reason == "address"
    assert resolver.asked == []


@pytest.mark.parametrize(
    "answers",
    [
        ["169.254.169.254"],
        ["127.0.0.1"],
        ["::1"],
        ["10.0.0.7"],
        ["100.64.12.1"],
        ["::ffff:192.168.0.1"],
        ["fd00::5"],
        ["93.184.216.34", "10.0.0.1"],  # one bad address among good ones is enough
        ["2606:4700:4700::1111", "fe80::1%eth0"],
    ],
)
async def test_names_resolving_to_forbidden_addresses_are_refused(answers: list[str]) -> None:
    resolver = Resolver({"news.example": answers})
    error = await refused(refusing_fetcher(resolver), "https://news.example/story")
    assert error.reason == "address"
    assert resolver.asked == ["news.example"]
    addresses = [ipaddress.ip_address(a.split("%")[0]) for a in answers]
    bad = next(a for a in addresses if refusal(a))
    assert str(error).startswith(f"address: {bad} is ")  # for the log only


async def test_unresolvable_names() -> None:
    fetcher = refusing_fetcher(Resolver({"empty.example": []}))
    assert (await refused(fetcher, "http://nowhere.example/")).reason == "resolve"
    assert (await refused(fetcher, "http://empty.example/")).reason == "resolve"


# -- where the connection goes (nothing leaves: MockTransport) --------------------------------


def recording(
    seen: list[httpx.Request], answer: Callable[[httpx.Request], httpx.Response] | None = None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if answer is not None:
            return answer(request)
        return httpx.Response(200, text=PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

    return httpx.MockTransport(handler)


async def test_the_connection_goes_to_the_checked_address_with_the_name_for_tls() -> None:
    resolver = Resolver({"news.example": ["93.184.216.34"]})
    seen: list[httpx.Request] = []
    fetcher = SafeFetcher(LinksConfig(), resolver=resolver, transport=recording(seen))
    page = await fetcher.fetch("https://news.example/a/b?c=1")
    (request,) = seen
    assert request.url.host == "93.184.216.34"
    assert request.url.scheme == "https" and request.url.raw_path == b"/a/b?c=1"
    assert request.headers["host"] == "news.example"
    assert request.extensions["sni_hostname"] == "news.example"
    assert page.url == "https://news.example/a/b?c=1"
    assert page.media_type == "text/html" and page.charset == "utf-8"


async def test_dns_rebinding_gets_no_second_answer() -> None:
    """A name that answers a public address to the check and loopback to the connection: we
    never ask twice, and connect where we checked."""

    class Rebinding(Resolver):
        async def __call__(self, host: str, port: int) -> list[str]:
            self.asked.append(host)
            return ["93.184.216.34"] if len(self.asked) == 1 else ["127.0.0.1"]

    resolver = Rebinding()
    seen: list[httpx.Request] = []
    fetcher = SafeFetcher(LinksConfig(), resolver=resolver, transport=recording(seen))
    await fetcher.fetch("http://rebind.example/")
    assert resolver.asked == ["rebind.example"]
    assert [r.url.host for r in seen] == ["93.184.216.34"]


async def test_every_redirect_hop_is_checked() -> None:
    resolver = Resolver(
        {
            "news.example": ["93.184.216.34"],
            "cdn.example": ["93.184.216.35"],
            "intranet.example": ["10.0.0.5"],
        }
    )
    targets = {
        "/to-metadata": "http://169.254.169.254/latest/meta-data/iam",
        "/to-intranet": "http://intranet.example/",
        "/to-loopback-v6": "http://[::1]/",
        "/to-ftp": "ftp://news.example/file",
        "/to-port": "http://cdn.example:8080/",
        "/relative": "/final",
        "/to-cdn": "https://cdn.example/final",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path in targets:
            return httpx.Response(302, headers={"Location": targets[request.url.path]})
        return httpx.Response(200, text=PAGE, headers={"Content-Type": "text/html"})

    seen: list[httpx.Request] = []
    fetcher = SafeFetcher(LinksConfig(), resolver=resolver, transport=recording(seen, answer))
    for path, reason in (
        ("/to-metadata", "address"),
        ("/to-intranet", "address"),
        ("/to-loopback-v6", "address"),
        ("/to-ftp", "not_http"),
        ("/to-port", "port"),
    ):
        seen.clear()
        assert (await refused(fetcher, f"http://news.example{path}")).reason == reason, path
        assert [r.url.host for r in seen] == ["93.184.216.34"], path  # only the first hop
    seen.clear()
    page = await fetcher.fetch("http://news.example/relative")
    assert page.url == "http://news.example/final"
    page = await fetcher.fetch("http://news.example/to-cdn")
    assert page.url == "https://cdn.example/final"
    assert seen[-1].url.host == "93.184.216.35"
    assert seen[-1].headers["host"] == "cdn.example"


async def test_too_many_redirects() -> None:
    resolver = Resolver({"loop.example": ["93.184.216.34"]})

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": f"{request.url.path}x"})

    seen: list[httpx.Request] = []
    config = LinksConfig(max_redirects=3)
    fetcher = SafeFetcher(config, resolver=resolver, transport=recording(seen, answer))
    assert (await refused(fetcher, "http://loop.example/")).reason == "redirects"
    assert len(seen) == 4
    missing = SafeFetcher(
        config,
        resolver=resolver,
        transport=recording([], lambda _: httpx.Response(302)),
    )
    assert (await refused(missing, "http://loop.example/")).reason == "bad_response"


# -- a real server on loopback ----------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def loopback_config(port: int, **changes: object) -> LinksConfig:
    values: dict[str, object] = {
        "allowed_ports": (port,),
        "allowed_networks": ("127.0.0.1/32",),
        "timeout_seconds": 2.0,
        "max_bytes": 100_000,
        "max_redirects": 3,
    }
    values.update(changes)
    return LinksConfig(**values)  # type: ignore[arg-type]


def port_of(server: FeedServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


def loopback(server: FeedServer, **changes: object) -> SafeFetcher:
    resolver = Resolver({"news.test": ["127.0.0.1"], "other.test": ["127.0.0.2"]})
    return SafeFetcher(loopback_config(port_of(server), **changes), resolver=resolver)


async def test_a_good_page_on_an_allowed_address(server: FeedServer) -> None:
    server.add("/article", PAGE, content_type="text/html; charset=utf-8")
    server.add(
        "/moved", redirect="http://news.test:{port}/article".replace("{port}", str(port_of(server)))
    )
    fetcher = loopback(server)
    page = await fetcher.fetch(f"http://news.test:{port_of(server)}/article")
    assert page.content.decode() == PAGE
    assert page.url == f"http://news.test:{port_of(server)}/article"
    assert server.requests_to("/article")[-1].headers["Host"] == f"news.test:{port_of(server)}"
    moved = await fetcher.fetch(f"{server.base}/moved")
    assert moved.url == f"http://news.test:{port_of(server)}/article"


async def test_the_default_config_refuses_the_loopback_server(server: FeedServer) -> None:
    server.add("/article", PAGE, content_type="text/html")
    config = LinksConfig(allowed_ports=(port_of(server),))
    error = await refused(SafeFetcher(config), server.url("/article"))
    assert error.reason == "address"
    assert server.requests_to("/article") == []


async def test_loopback_outside_the_allowed_network_is_refused(server: FeedServer) -> None:
    error = await refused(loopback(server), f"http://other.test:{port_of(server)}/")
    assert error.reason == "address"


async def test_proxies_from_the_environment_are_ignored(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("/article", PAGE, content_type="text/html")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    page = await loopback(server).fetch(server.url("/article"))
    assert page.content.decode() == PAGE


@pytest.mark.parametrize(
    ("route", "options", "reason"),
    [
        ("/missing", None, "status"),
        ("/pdf", {"body": b"%PDF-1.4", "content_type": "application/pdf"}, "content_type"),
        ("/json", {"body": b"{}", "content_type": "application/json"}, "content_type"),
        ("/big", {"body": b"x" * 200_000, "content_type": "text/html"}, "too_large"),
        (
            "/bomb",
            {"body": gzip_bomb(50_000_000), "gzipped": True, "content_type": "text/html"},
            "too_large",
        ),
        ("/endless", {"endless": True, "content_type": "text/html"}, "too_large"),
        ("/slow", {"body": PAGE, "delay": 3.0, "content_type": "text/html"}, "timeout"),
        ("/trickle", {"body": PAGE, "trickle": 0.2, "content_type": "text/html"}, "timeout"),
        ("/loop", {"redirect": "{base}/loop"}, "redirects"),
        (
            "/corrupt",
            {"body": b"not gzip at all", "gzipped": True, "content_type": "text/html"},
            "bad_response",
        ),
    ],
)
async def test_bad_pages(
    server: FeedServer, route: str, options: dict[str, object] | None, reason: str
) -> None:
    if options is not None:
        options = dict(options)
        body = options.pop("body", b"")
        server.add(route, body, **options)  # type: ignore[arg-type]
    error = await refused(loopback(server, timeout_seconds=1.0), server.url(route))
    assert error.reason == reason
    if reason == "status":
        assert error.status == 404


async def test_a_gzipped_page_is_read(server: FeedServer) -> None:
    server.add("/zipped", PAGE, content_type="text/html", gzip=True)
    page = await loopback(server).fetch(server.url("/zipped"))
    assert page.content == PAGE.encode()
    assert gzip.compress(PAGE.encode()) != page.content


async def test_nobody_listening(server: FeedServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = int(sock.getsockname()[1])
    resolver = Resolver({"news.test": ["127.0.0.1"]})
    fetcher = SafeFetcher(loopback_config(closed), resolver=resolver)
    assert (await refused(fetcher, f"http://news.test:{closed}/")).reason == "connect"
