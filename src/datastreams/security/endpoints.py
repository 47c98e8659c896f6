"""Endpoint safety: HTTPS deliveries may reach only public addresses.

A stream's endpoint is chosen by a tenant's administrator, so without this check an
administrator could make the service send requests to the machines around it: the
loopback interface, a private network or a cloud metadata address. Every address a
host resolves to must be global unicast. The check runs in two places:

- inside the HTTP client's resolver (``GuardedResolver``), on the addresses the
  connection really uses, so a name that later resolves elsewhere (DNS rebinding)
  cannot get through;
- when a stream is saved, on the addresses the name resolves to at that moment, so
  the administrator learns early.

Networks listed in ``DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS`` (for example
``127.0.0.0/8`` for development and tests) are admitted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from datastreams.errors import DataStreamsError

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# NAT64 prefix of RFC 6052: its addresses carry an IPv4 address in the last 32 bits.
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


class ForbiddenEndpointAddress(DataStreamsError):
    """The endpoint resolves to an address that deliveries may not reach.

    Not retriable as such: the stream's configuration must change, or the network
    must be admitted with ``DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS``.
    """

    code = "forbidden_endpoint_address"


def parse_networks(raw: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse a comma-separated CIDR list or a list of CIDRs.

    Raises ValueError naming the entry that is not a network.
    """
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    networks: list[IPNetwork] = []

    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a CIDR network such as 127.0.0.0/8") from exc

    return tuple(networks)


def forbidden_reason(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Return why deliveries may not reach ``address``, or ``None`` when they may."""
    if any(address.version == network.version and address in network for network in allowed):
        return None

    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = forbidden_reason(embedded, allowed)
        return None if reason is None else f"embeds {embedded}, which {reason}"

    if address.is_multicast:
        return "is a multicast address"
    if address.is_unspecified:
        return "is the unspecified address"
    if address.is_loopback:
        return "is a loopback address"
    if address.is_link_local:
        return "is a link-local address (this includes cloud metadata services)"
    if not address.is_global:
        return "is not a public (global unicast) address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address carried inside an IPv6 address, when it carries one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_addresses(host: str, addresses: Iterable[str], allowed: Sequence[IPNetwork]) -> None:
    """Raise ``ForbiddenEndpointAddress`` unless every address of ``host`` is admitted."""
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden_reason(address, allowed)
        if reason is not None:
            raise ForbiddenEndpointAddress(f"{host} resolves to {address}, which {reason}")


def literal_address(host: str) -> IPAddress | None:
    """Return ``host`` as an address when it is an IP literal (brackets allowed), else ``None``."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that rejects a host unless all its addresses are admitted.

    aiohttp does not call the resolver for IP literals, so callers check those with
    ``literal_address`` and ``forbidden_reason`` before sending.
    """

    def __init__(
        self, allowed: Sequence[IPNetwork] = (), resolver: AbstractResolver | None = None
    ) -> None:
        self._allowed = tuple(allowed)
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)

        try:
            check_addresses(host, (result["host"] for result in results), self._allowed)
        except ForbiddenEndpointAddress:
            logger.warning(
                "endpoint host %s rejected by the address check",
                host,
                extra={"action": "endpoint_rejected", "host": host},
            )
            raise

        return results

    async def close(self) -> None:
        await self._resolver.close()


async def resolve_for_check(host: str, port: int, resolver: Any = None) -> list[str]:
    """Resolve ``host`` the way the HTTP client will and return the addresses as text.

    Used when a stream is saved. Raises ``OSError`` when the name does not resolve.
    """
    active = resolver or DefaultResolver()
    try:
        results = await active.resolve(host, port, socket.AF_UNSPEC)
    finally:
        if resolver is None:
            await active.close()
    return [result["host"] for result in results]


ALLOW_HINT = (
    "for development, admit its network with DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS "
    "(or --allowed-endpoint-networks)"
)

# A name that does not resolve within this time when a stream is saved is accepted
# with a warning, because deliveries check the addresses again on every new connection.
SAVE_RESOLVE_TIMEOUT_S = 2.0


async def check_endpoint_on_save(
    url: str, allowed: Sequence[IPNetwork], resolver: Any = None
) -> tuple[str | None, str | None]:
    """Check an endpoint when a stream is saved; return ``(error, warning)``.

    An IP literal or a name resolving to a forbidden address gives an error. A name
    that does not resolve now gives a warning, because it may resolve later.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443

    address = literal_address(host)
    if address is not None:
        reason = forbidden_reason(address, allowed)
        if reason is None:
            return None, None
        return f"{address} {reason}; {ALLOW_HINT}", None

    try:
        async with asyncio.timeout(SAVE_RESOLVE_TIMEOUT_S):
            addresses = await resolve_for_check(host, port, resolver)
    except (OSError, TimeoutError) as exc:
        return None, f"{host} does not resolve now ({exc or 'timed out'}); delivery will retry"

    try:
        check_addresses(host, addresses, allowed)
    except ForbiddenEndpointAddress as exc:
        return f"{exc.message}; {ALLOW_HINT}", None
    return None, None
