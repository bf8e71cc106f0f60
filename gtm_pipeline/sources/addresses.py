"""Where the fetcher may connect: the SSRF guard, checked on the socket itself.

A page on the web can name any URL, and a redirect can point anywhere, so "is this URL safe"
cannot be decided from the text of the URL: ``http://metadata.example`` may resolve to
169.254.169.254, and a name can resolve to a public address when checked and a private one a
moment later (DNS rebinding). The check therefore lives in the network backend: every TCP
connection, for every hop, resolves the name once, refuses loopback, private, link-local,
multicast and reserved addresses, and connects to the very address it checked.

Two deliberate exceptions, both empty by default:

- ``allow``: ``host:port`` pairs (``GTM_FETCH_ALLOW``) that may be reached although they are
  not public: the tests and the offline demo allow their own twins on loopback that way.
- ``connect_to``: ``name -> host:port`` routes (``GTM_FETCH_CONNECT_TO``, like curl's
  ``--connect-to``): a name served by a local twin. The route's target is still checked
  against ``allow``, so a route alone never opens a private address.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpcore
import httpx

Resolver = Callable[[str, int], list[str]]


class AddressRefused(Exception):
    """A connection the guard would not open; ``reason`` is what ``gtm fetch`` prints."""

    def __init__(
        self, host: str, port: int, address: str | None, reason: str, *, private: bool = True
    ) -> None:
        where = f"{host}:{port}" + (f" ({address})" if address and address != host else "")
        super().__init__(f"{where} is {reason}" if private else f"{where}: {reason}")
        self.host, self.port, self.address, self.reason = host, port, address, reason
        self.private = private  # False: the name does not resolve (nothing to connect to at all)


_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dns")
DNS_TIMEOUT_S = 10.0


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6), within
    ``DNS_TIMEOUT_S``: ``getaddrinfo`` has no timeout of its own, so it runs on a worker thread
    and a lookup that hangs is given up on (its thread finishes on its own)."""
    lookup = _LOOKUPS.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    deadline = time.monotonic() + DNS_TIMEOUT_S
    while not lookup.done():  # polled, not a timed wait (see sources/crawl.py on libfaketime)
        if time.monotonic() >= deadline:
            raise AddressRefused(host, port, None, f"DNS gave no answer in {DNS_TIMEOUT_S:g}s", private=False)
        time.sleep(0.005)
    try:
        infos = lookup.result()
    except socket.gaierror as exc:
        raise AddressRefused(host, port, None, f"does not resolve ({exc.strerror})", private=False) from exc
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def why_not_public(address: str) -> str | None:
    """Why ``address`` is not a public unicast address, or None when it is."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever its spelling
        elif ip.sixtofour is not None or ip.teredo is not None:
            # 2002:7f00:1::1 (6to4) and Teredo addresses embed an IPv4 address a relay would reach.
            return "an IPv4-embedding tunnel address (6to4 / Teredo)"
    for test, name in (
        (ip.is_loopback, "loopback"),
        (ip.is_private, "private"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
    ):
        if test:
            return name
    if not ip.is_global:
        return "not globally routable"
    return None


def parse_host_port(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``, lower-cased; a clear error otherwise."""
    value = text.strip().lower()
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{text!r}: expected host:port")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class AddressPolicy:
    """What the guard allows: public addresses, plus the named exceptions."""

    allow: frozenset[tuple[str, int]] = frozenset()
    connect_to: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    resolver: Resolver = system_resolver

    @classmethod
    def from_settings(
        cls, allow: Iterable[str], connect_to: Iterable[str], resolver: Resolver = system_resolver
    ) -> AddressPolicy:
        routes: dict[str, tuple[str, int]] = {}
        for item in connect_to:
            name, sep, target = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"connect_to {item!r}: expected name=host:port")
            routes[name.strip().lower()] = parse_host_port(target)
        return cls(frozenset(parse_host_port(a) for a in allow), routes, resolver)

    def routed(self, host: str) -> bool:
        """Whether ``host`` is served by a local route (fetched over plain HTTP)."""
        return host.lower() in self.connect_to

    def address_for(self, host: str, port: int) -> str:
        """The one address to connect to for ``host:port``; raises :class:`AddressRefused`."""
        host = host.lower().strip("[]")
        if host in self.connect_to:
            host, port = self.connect_to[host]
        if (host, port) in self.allow:
            return self._first(host, port)
        addresses = self._literal(host) or self.resolver(host, port)
        if not addresses:
            raise AddressRefused(host, port, None, "does not resolve", private=False)
        for address in addresses:
            if (address, port) in self.allow:
                return address
            reason = why_not_public(address)
            if reason is not None:
                # One bad address refuses the name: a resolver that mixes public and private
                # answers is exactly how rebinding is attempted.
                raise AddressRefused(host, port, address, reason)
        return addresses[0]

    def _first(self, host: str, port: int) -> str:
        return (self._literal(host) or self.resolver(host, port))[0]

    @staticmethod
    def _literal(host: str) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return []


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        address = self.policy.address_for(host, port)
        target_port = self.policy.connect_to.get(host.lower(), (host, port))[1]
        return super().connect_tcp(address, target_port, timeout, local_address, socket_options)


def _guarded_pool(policy: AddressPolicy, max_connections: int) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through :class:`GuardedBackend`.

    httpx does not take a network backend, so the transport's pool is replaced by one built with
    it (same arguments httpx uses); ``tests/test_fetch.py`` fails if httpx ever stops using it.
    """
    transport = httpx.HTTPTransport(retries=0)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        http1=True,
        http2=False,
        retries=0,
        network_backend=GuardedBackend(policy),
    )
    return transport


class ShardedTransport(httpx.BaseTransport):
    """Several guarded pools, one chosen by the request's host.

    httpcore's pool serialises every request on one lock and scans all its connections for each:
    with dozens of workers on hundreds of hosts, that lock, not the network, sets the pace. A
    host's requests always go to the same shard, so keep-alive per host still works.
    """

    def __init__(self, policy: AddressPolicy, *, shards: int, max_connections: int) -> None:
        per_shard = max(2, max_connections // shards)
        self._shards = [_guarded_pool(policy, per_shard) for _ in range(max(1, shards))]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.encode()
        return self._shards[zlib.crc32(host) % len(self._shards)].handle_request(request)

    def close(self) -> None:
        for shard in self._shards:
            shard.close()


def guarded_transport(policy: AddressPolicy, *, max_connections: int = 32) -> httpx.BaseTransport:
    """The fetcher's transport: SSRF-guarded connections, sharded by host."""
    return ShardedTransport(
        policy, shards=max(1, min(16, max_connections // 4)), max_connections=max_connections
    )
