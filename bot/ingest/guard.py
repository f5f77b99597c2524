"""The SSRF guard: which URLs and addresses a request chosen by someone else may reach.

A URL a user sent, or one a feed's entry or redirect leads to, is written by someone other than
the operator. Fetched naively, it reads the cloud metadata service (`http://169.254.169.254/`),
the admin page of a router, a database port on localhost, or any of these behind a public name,
a redirect, or a DNS answer that changes between the check and the connection. `FetchPolicy`
says what such a URL may reach; `bot.ingest.fetch.Fetcher` applies it to every hop it does not
trust (resolving the name once, checking every address, connecting to the checked one):

- only `http` and `https` URLs, without credentials, on the allowed ports (80 and 443 unless
  `fetch.allowed_ports` says otherwise);
- *every* address the host resolves to is checked: loopback, private, link-local
  (169.254.0.0/16, with the metadata service), CGNAT (100.64.0.0/10), multicast,
  documentation, benchmarking and reserved ranges and their IPv6 equivalents are refused, and
  an IPv6 address that embeds an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, NAT64, 6to4) is judged
  by the IPv4 address inside; an IPv4 address spelled the way `inet_aton` reads it
  (`2130706433`, `0x7f.1`) is judged as the address it is. Networks in
  `fetch.allowed_networks` are exempt (an intranet bot; the tests' loopback server).

A refusal raises `bot.errors.LinkError` (reason "not_http", "credentials", "port" or
"address"), which the fetcher turns into its own `FetchError` with the same reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from bot.errors import LinkError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses (as text) the host resolves to.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


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


def parse_address(text: str) -> Address | None:
    """`text` as an IP address (an IPv6 scope dropped), None when it is not one."""
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


class AllowedTargets(Protocol):
    """What `FetchPolicy.from_config` reads: `FetchConfig` (or the deprecated `LinksConfig`)."""

    @property
    def allowed_ports(self) -> tuple[int, ...]: ...

    @property
    def allowed_networks(self) -> tuple[str, ...]: ...


class FetchPolicy:
    """What may be fetched: schemes, ports, and which addresses (see the module docstring)."""

    def __init__(
        self, allowed_ports: Iterable[int] = (80, 443), allowed_networks: Iterable[str] = ()
    ) -> None:
        self.allowed_ports = frozenset(allowed_ports)
        self.allowed_networks = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )

    @classmethod
    def from_config(cls, config: AllowedTargets) -> FetchPolicy:
        """The policy `[fetch]` describes (or `[links]`, its deprecated alias)."""
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
        literal = parse_address(host) or _ipv4_literal(host)
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

    async def addresses(self, target: Target, resolver: Resolver) -> list[Address]:
        """The checked addresses of the hop's host, resolved once by `resolver`: all of them
        must be acceptable, since which one a connection would use is not ours to choose.
        LinkError ("resolve", "address") otherwise."""
        if target.literal is not None:
            found: list[Address] = [target.literal]
        else:
            try:
                answers = await resolver(target.host, target.port)
            except (OSError, UnicodeError, ValueError) as exc:
                raise LinkError("resolve", f"{target.host}: {exc}") from None
            found = []
            for answer in answers:
                address = parse_address(answer)
                if address is not None and address not in found:
                    found.append(address)
            if not found:
                raise LinkError("resolve", f"{target.host}: no address")
        for address in found:
            self.check(address)
        return found
