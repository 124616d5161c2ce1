"""Client addresses as the per-address limits count them (rate limits, the login throttle).

An IPv6 client usually holds a whole /64 (one customer's network; a host picks new privacy
addresses in it at will), so each of its addresses having a budget of its own would give it
2**64 budgets: an IPv6 address is counted as its /64. An IPv4 address, and an IPv4 client
seen through an IPv4-mapped IPv6 address, is counted as itself. A port some proxies write
after the address (``203.0.113.9:50123``, ``[2001:db8::1]:50123``) is dropped: each connection
of a client has a new one, so counted with it every connection had a budget of its own.
"""

from __future__ import annotations

import ipaddress

IPV6_NETWORK_PREFIX = 64


def counted_address(address: str | None) -> str:
    """The address a per-address budget counts (anything unreadable as given)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(without_port(address))
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        network = ipaddress.IPv6Network((int(parsed), IPV6_NETWORK_PREFIX), strict=False)
        return str(network)
    return str(parsed)


def without_port(address: str) -> str:
    """``address`` without a ``:port`` after an IPv4 address or a bracketed IPv6 one."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    host, separator, port = address.partition(":")
    if separator and port.isdigit() and "." in host:
        return host
    return address
