"""The address check that keeps deliveries away from the machines around the service.

These tests resolve names through stub resolvers and never open a connection.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from datastreams.security.endpoints import (
    ForbiddenEndpointAddress,
    GuardedResolver,
    check_addresses,
    forbidden_reason,
    literal_address,
    parse_networks,
)

FORBIDDEN = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "0.0.0.0",
    "224.0.0.1",
    "224.0.1.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("text", FORBIDDEN)
def test_forbidden_reason_rejects(text: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(text)) is not None


@pytest.mark.parametrize("text", PUBLIC)
def test_forbidden_reason_admits_public(text: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(text)) is None


def test_allowed_network_admits_loopback() -> None:
    allowed = parse_networks("127.0.0.0/8, ::1/128")

    assert forbidden_reason(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert forbidden_reason(ipaddress.ip_address("::1"), allowed) is None
    assert forbidden_reason(ipaddress.ip_address("10.0.0.1"), allowed) is not None


def test_metadata_reason_names_link_local() -> None:
    reason = forbidden_reason(ipaddress.ip_address("169.254.169.254"))

    assert reason is not None
    assert "link-local" in reason


def test_parse_networks_names_bad_entry() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        parse_networks("127.0.0.0/8,10.0.0.0/33")


def test_check_addresses_rejects_any_private() -> None:
    with pytest.raises(ForbiddenEndpointAddress, match="10.0.0.7"):
        check_addresses("mixed.example", ["8.8.8.8", "10.0.0.7"], ())


def test_literal_address_handles_brackets() -> None:
    assert literal_address("[::1]") == ipaddress.ip_address("::1")
    assert literal_address("receiver.example") is None


class StubResolver(AbstractResolver):
    """Returns fixed addresses for every name, as a rebinding DNS server might."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=address, port=port, family=family, proto=0, flags=0)
            for address in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


async def test_guarded_resolver_rejects_rebinding() -> None:
    resolver = GuardedResolver((), StubResolver(["8.8.8.8", "169.254.169.254"]))

    with pytest.raises(ForbiddenEndpointAddress, match="169.254.169.254"):
        await resolver.resolve("rebinding.example", 443)


async def test_guarded_resolver_passes_public() -> None:
    resolver = GuardedResolver((), StubResolver(["8.8.8.8"]))

    results = await resolver.resolve("public.example", 443)

    assert [result["host"] for result in results] == ["8.8.8.8"]


async def test_guarded_resolver_closes_inner() -> None:
    inner = StubResolver(["8.8.8.8"])
    resolver = GuardedResolver((), inner)

    await resolver.close()

    assert inner.closed
