"""Fetching a page a user sent without letting the user aim the bot at its own network (SSRF).

A feed URL comes from the operator; a link in a chat comes from anyone. Fetched naively, it
reads the cloud metadata service (`http://169.254.169.254/`), the admin page of a router, a
database port on localhost, or any of these behind a public name, a redirect, or a DNS answer
that changes between the check and the connection. `SafeFetcher.fetch` closes each door:

- only `http` and `https` URLs, without credentials, on the allowed ports (80 and 443 unless
  `links.allowed_ports` says otherwise);
- the host is resolved here (`Resolver`, `loop.getaddrinfo` by default) and *every* address it
  resolves to is checked: loopback, private, link-local (169.254.0.0/16, with the metadata
  service), CGNAT (100.64.0.0/10), multicast, documentation, benchmarking and reserved ranges
  and their IPv6 equivalents are refused, and an IPv6 address that embeds an IPv4 one
  (IPv4-mapped `::ffff:a.b.c.d`, NAT64, 6to4) is judged by the IPv4 address inside. Networks
  in `links.allowed_networks` are exempt (an intranet bot; the tests' loopback server);
- the connection goes to the address that was checked: the request URL carries the IP, the
  `Host` header and TLS (SNI and certificate verification) the name, so a second DNS answer
  (DNS rebinding) is never asked for. Connections are not reused across fetches, and proxies
  from the environment are ignored (they would connect on our behalf, unchecked);
- redirects are followed here, one hop at a time, each hop checked like the first, at most
  `links.max_redirects`;
- the whole fetch, DNS included, takes at most `links.timeout_seconds`, at most
  `links.max_bytes` are read once decoded (gzip bombs included), and only HTML and plain text
  are accepted.

A refusal or failure raises `bot.errors.LinkError`, whose `reason` (one of `LINK_REASONS`) is
what the user is told; its message, with addresses, is for the logs only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

from bot.config import LinksConfig
from bot.errors import FetchError, LinkError
from bot.ingest.fetch import PAGE_ACCEPT, charset_of, read_capped

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses (as text) the host resolves to.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Addresses of one name tried in turn when a connection is refused (all of them are checked).
_MAX_ADDRESSES_TRIED = 4


def _networks(*cidrs: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Never fetched, whatever `is_global` says in this Python version.
BLOCKED_NETWORKS: tuple[Network, ...] = _networks(
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",  # documentation
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and broadcast
    "::/96",  # unspecified, loopback, IPv4-compatible (deprecated)
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard
    "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, benchmarking...)
    "2001:db8::/32",  # documentation
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
    "fec0::/10",  # site-local (deprecated)
    "ff00::/8",  # multicast
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64, 6to4), else None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def refusal(address: Address) -> str | None:
    """Why `address` must not be fetched ("loopback", "private"...), None when it is public."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = refusal(inner)
        return f"{reason} (embedded in {address})" if reason else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    if any(
        address in network for network in BLOCKED_NETWORKS if network.version == address.version
    ):
        return "reserved"
    if not address.is_global:
        return "not global"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of `host` as the operating system resolves them (`getaddrinfo`)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written the way `inet_aton` reads it ("2130706433", "0x7f.1", "127.1"),
    which the resolver would turn into an address without asking DNS."""
    lowered = host.lower()
    if not lowered or lowered.strip("0123456789abcdefx.") or not lowered[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(lowered))
    except OSError:
        return None


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 scope is not an address
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """One hop, checked: the URL, its host name (ASCII) and port, and the host as an address
    when the URL gives one."""

    url: httpx.URL
    host: str
    port: int
    literal: Address | None


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched page: the final URL (after redirects), the decoded body, its media type
    ("text/html") and the charset the server declared, if any."""

    url: str
    content: bytes
    media_type: str
    charset: str | None = None


class FetchPolicy:
    """What may be fetched: schemes, ports, and which addresses (see the module docstring)."""

    def __init__(
        self, allowed_ports: Iterable[int] = (80, 443), allowed_networks: Iterable[str] = ()
    ) -> None:
        self.allowed_ports = frozenset(allowed_ports)
        self.allowed_networks = tuple(ipaddress.ip_network(n) for n in allowed_networks)

    @classmethod
    def from_config(cls, config: LinksConfig) -> FetchPolicy:
        """The policy `[links]` describes."""
        return cls(config.allowed_ports, config.allowed_networks)

    def target(self, url: str | httpx.URL) -> Target:
        """The hop to `url` if its scheme, credentials and port are acceptable; LinkError
        otherwise. The address is checked later, once resolved."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
            host = parsed.raw_host.decode("ascii").strip("[]")
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise LinkError("not_http", f"unparsable URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not host:
            raise LinkError("not_http", f"scheme {parsed.scheme!r}")
        if parsed.userinfo:
            raise LinkError("credentials", "user info in the URL")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if port not in self.allowed_ports:
            raise LinkError("port", f"port {port}")
        literal = _address(host) or _ipv4_literal(host)
        return Target(parsed, host, port, literal)

    def check(self, address: Address) -> None:
        """LinkError("address") unless `address` is public or in an allowed network."""
        inner = embedded_ipv4(address)
        for candidate in (address, inner):
            if candidate is not None and any(
                candidate in network
                for network in self.allowed_networks
                if network.version == candidate.version
            ):
                return
        reason = refusal(address)
        if reason is not None:
            raise LinkError("address", f"{address} is {reason}")


def _check_content_type(value: str) -> tuple[str, str | None]:
    """(media type, charset) of an acceptable Content-Type; LinkError otherwise."""
    media = value.split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise LinkError("content_type", f"Content-Type {value!r}")
    return media, charset_of(value)


class SafeFetcher:
    """GET a user's URL under `LinksConfig`'s rules; see the module docstring.

    `resolver` replaces DNS (tests answer names with the addresses they want to see refused,
    without any traffic); `transport` replaces the network (tests use `httpx.MockTransport` to
    see the requests as they would leave).
    """

    def __init__(
        self,
        config: LinksConfig,
        *,
        user_agent: str = "newsbot",
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.policy = FetchPolicy.from_config(config)
        self.user_agent = user_agent
        self.resolver: Resolver = resolver or system_resolver
        self.transport = transport
        # Loading the CA bundle costs milliseconds: once, shared by every fetch.
        self._ssl = ssl.create_default_context()

    async def fetch(self, url: str) -> Page:
        """The page at `url`, following redirects; LinkError when refused or failed."""
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                return await self._fetch(url)
        except (TimeoutError, httpx.TimeoutException):
            raise LinkError("timeout", f"after {self.config.timeout_seconds:g}s") from None
        except httpx.HTTPError as exc:
            raise LinkError("bad_response", f"{type(exc).__name__}: {exc}") from None

    async def _fetch(self, url: str) -> Page:
        async with httpx.AsyncClient(
            verify=self._ssl,
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(self.config.timeout_seconds),
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={
                "User-Agent": self.user_agent,
                "Accept": PAGE_ACCEPT,
                # Only the encodings `_Decoder` inflates with a size bound.
                "Accept-Encoding": "gzip, deflate",
            },
            transport=self.transport,
        ) as client:
            current: str | httpx.URL = url
            for _ in range(self.config.max_redirects + 1):
                target = self.policy.target(current)
                addresses = await self._addresses(target)
                response = await self._connect(client, target, addresses)
                try:
                    if response.status_code in _REDIRECTS:
                        location = response.headers.get("location", "").strip()
                        if not location:
                            raise LinkError("bad_response", "redirect without Location")
                        try:
                            current = target.url.join(location)
                        except httpx.InvalidURL as exc:
                            raise LinkError(
                                "not_http", f"redirect to {location!r}: {exc}"
                            ) from None
                        continue
                    return await self._page(target, response)
                finally:
                    await response.aclose()
        raise LinkError("redirects", f"more than {self.config.max_redirects}")

    async def _addresses(self, target: Target) -> list[Address]:
        """The checked addresses of the hop's host: all of them must be acceptable, since
        which one a connection would use is not ours to choose."""
        if target.literal is not None:
            found: list[Address] = [target.literal]
        else:
            try:
                answers = await self.resolver(target.host, target.port)
            except (OSError, UnicodeError, ValueError) as exc:
                raise LinkError("resolve", f"{target.host}: {exc}") from None
            found = []
            for answer in answers:
                address = _address(answer)
                if address is not None and address not in found:
                    found.append(address)
            if not found:
                raise LinkError("resolve", f"{target.host}: no address")
        for address in found:
            self.policy.check(address)
        return found

    async def _connect(
        self, client: httpx.AsyncClient, target: Target, addresses: Sequence[Address]
    ) -> httpx.Response:
        """Send the request to the first checked address that accepts a connection."""
        extensions = {}
        if target.url.scheme == "https" and target.literal is None:
            # TLS for the name (SNI and certificate check) on a connection to the address.
            extensions["sni_hostname"] = target.host
        host_header = target.url.netloc.decode("ascii")
        last: Exception | None = None
        for address in addresses[:_MAX_ADDRESSES_TRIED]:
            request = client.build_request(
                "GET",
                target.url.copy_with(host=str(address)),
                headers={"Host": host_header},
                extensions=extensions,
            )
            try:
                return await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last = exc
        raise LinkError("connect", f"{target.host}: {last}")

    async def _page(self, target: Target, response: httpx.Response) -> Page:
        if not 200 <= response.status_code < 300:
            raise LinkError("status", f"HTTP {response.status_code}", status=response.status_code)
        media, charset = _check_content_type(response.headers.get("content-type", ""))
        content = await self._read_capped(response)
        return Page(str(target.url), content, media, charset)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        limit = self.config.max_bytes
        try:
            return await read_capped(
                response, limit, lambda: LinkError("too_large", f"over {limit} bytes")
            )
        except FetchError as exc:
            raise LinkError("bad_response", str(exc)) from None
