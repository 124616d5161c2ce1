"""Client addresses as the per-address limits count them (rate limits, the login throttle).

An IPv6 client usually holds a whole /64 (one customer's network; a host picks new privacy
addresses in it at will), so each of its addresses having a budget of its own would give it
2**64 budgets: an IPv6 address is counted as its /64. An IPv4 address, and an IPv4 client
seen through an IPv4-mapped IPv6 address, is counted as itself.
"""

from __future__ import annotations

import ipaddress

IPV6_NETWORK_PREFIX = 64


def counted_address(address: str | None) -> str:
    """The address a per-address budget counts (anything unreadable as given)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        network = ipaddress.IPv6Network((int(parsed), IPV6_NETWORK_PREFIX), strict=False)
        return str(network)
    return str(parsed)
