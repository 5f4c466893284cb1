"""The SSRF guard: which URLs Ustadh may fetch from the web (ingestion by URL and crawls alike),
checked before a request and again at connect time.

This module owns the rule "a fetch only talks http(s) to public addresses". `AddressGuard.check`
refuses a URL whose scheme is not http/https, whose host does not resolve, or whose host resolves to
ANY address that is loopback, private, link-local, multicast, reserved, unspecified, shared
(100.64.0.0/10, carrier-grade NAT), not globally routable, or a cloud metadata address
(169.254.169.254, fd00:ec2::254). IPv4-mapped and 6to4 IPv6 addresses are judged by the IPv4 address
inside them. Entries of `allow` (SCRAPE_ALLOW: "host" or "host:port", e.g. "127.0.0.1:8081") are
exempt: tests and intranet sources.

A check before the request is not enough on its own: DNS may answer differently a moment later
(DNS rebinding). `GuardedResolver` is an aiohttp resolver that applies the same rule to the
addresses the connection will actually use, so a changed answer fails the connection
(aiohttp raises `ClientConnectorDNSError` whose `os_error` is a `Blocked`). aiohttp does not call
resolvers for IP-literal hosts; those cannot change, and `check` has judged them.

The address classes come from the standard library's `ipaddress` (IANA special-purpose registries);
there is no maintained library that wraps this rule for asyncio/aiohttp without also taking over
the HTTP client.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Iterable
from typing import Literal
from urllib.parse import urlsplit

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

Reason = Literal["scheme", "private_address", "unresolvable"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = {"http": 80, "https": 443}
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
SHARED = ipaddress.ip_network("100.64.0.0/10")


class Blocked(Exception):
    """A URL the guard refuses; `reason` is "scheme", "private_address" or "unresolvable"."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[Blocked], tuple[str, str]]:
        return type(self), (self.reason, self.message)


class BlockedAtConnect(Blocked, OSError):
    """`Blocked` raised inside aiohttp's resolver: an OSError, so aiohttp wraps it as a DNS error."""


def forbidden(address: IPAddress) -> bool:
    """True when a fetch must not connect to `address`."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None and forbidden(embedded):
            return True
    return (address in METADATA or address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or (address.version == 4 and address in SHARED) or not address.is_global)


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    except ValueError:
        return None


class AddressGuard:
    """Refuses URLs that would reach non-public addresses, except the hosts in `allow`."""

    def __init__(self, allow: Collection[str] = ()) -> None:
        self._allow = frozenset(entry.strip().lower() for entry in allow if entry.strip())

    def allows(self, host: str, port: int) -> bool:
        """Whether "host" or "host:port" is on the allow-list (IPv6 hosts as "[::1]:port")."""
        host = host.lower().rstrip(".")
        shown = f"[{host}]" if ":" in host else host
        return bool({host, shown, f"{shown}:{port}"} & self._allow)

    async def check(self, url: str) -> None:
        """Raise `Blocked` unless Ustadh may fetch `url`."""
        host, port = split_origin(url)
        if self.allows(host, port):
            return
        self.judge(host, await _resolve(host, port))

    def judge(self, host: str, addresses: Iterable[IPAddress]) -> None:
        """Raise `Blocked("private_address")` if any of `host`'s addresses is forbidden."""
        bad = sorted({str(a) for a in addresses if forbidden(a)})
        if bad:
            raise Blocked("private_address", f"{host} resolves to a non-public address ({', '.join(bad)}).")


def split_origin(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; `Blocked("scheme")` for anything else."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as exc:  # a bad port or an unbalanced IPv6 bracket
        raise Blocked("scheme", f"{url!r} is not a valid URL: {exc}") from exc
    if scheme not in SCHEMES or not host:
        raise Blocked("scheme", f"{url!r} is not an http(s) URL with a host.")
    return host, port or SCHEMES[scheme]


async def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _parse_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Blocked("unresolvable", f"{host} does not resolve: {exc}") from exc
    addresses = [a for a in (_parse_address(str(info[4][0])) for info in infos) if a is not None]
    if not addresses:
        raise Blocked("unresolvable", f"{host} resolves to no IP address.")
    return addresses


class GuardedResolver(ThreadedResolver):
    """aiohttp resolver that refuses, at connect time, the addresses `AddressGuard` refuses."""

    def __init__(self, guard: AddressGuard) -> None:
        super().__init__()
        self._guard = guard

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        if not self._guard.allows(host, port):
            try:
                self._guard.judge(host, (a for a in (_parse_address(r["host"]) for r in results) if a is not None))
            except Blocked as exc:
                raise BlockedAtConnect(exc.reason, exc.message) from None
        return results
