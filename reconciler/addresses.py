"""Addresses as nodes print them and as cluster files write them, compared one way."""

from __future__ import annotations

import ipaddress


def canonical_address(address: str) -> str:
    """One spelling per address, so ``fd00:0:0:0:0:0:0:1`` and ``fd00::1`` are one node."""
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return address


def same_address(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and canonical_address(a) == canonical_address(b)
