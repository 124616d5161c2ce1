"""The rows every measurement writes: realistic licenses, half new and half existing.

Each batch gets keys no other batch uses, so repetitions never turn into "unchanged" re-sends.
Items at odd positions exist beforehand (seeded untimed, with older values); those at even
positions are new. A one-item batch is therefore a create.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

CRED_KEY = 7001
ACTOR = "bench"
LICENSE_TYPES = tuple(range(1, 13))
STATES = ("CA", "NY", "TX", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "WA", "DC", "PR")
SPECIALTIES = ("FM", "IM", "PED", "CARD", "ORTH", "PSY", "DERM", "OBGYN", "EM", "ONC")


class KeyAllocator:
    """Hands out disjoint key ranges; one per batch (and one per floor run of the same rows)."""

    def __init__(self, start: int = 1_000_000) -> None:
        self._next = itertools.count(start)

    def take(self, n: int) -> int:
        first = next(self._next)
        for _ in range(n - 1):
            next(self._next)
        return first


def item(key: int, *, old: bool = False) -> dict[str, Any]:
    """One license as a client sends it; ``old`` gives the earlier values of an update."""
    n = key % 1000
    return {
        "providerCredLicense_Key": key,
        "providerCred_Key": CRED_KEY,
        "credLicenseType_Key": LICENSE_TYPES[key % len(LICENSE_TYPES)],
        "license_Name": "Medical Doctor (state medical license)",
        "license_Number": f"MD-{STATES[key % len(STATES)]}-{key}{'-OLD' if old else ''}",
        "state": STATES[key % len(STATES)],
        "specialty_Code": SPECIALTIES[key % len(SPECIALTIES)],
        "effective_Date": f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}T00:00:00Z",
        "term_Date": "2025-12-31T00:00:00Z" if old else f"2027-{1 + n % 12:02d}-15T00:00:00Z",
        "psV_Date": "2025-06-01T00:00:00Z",
    }


@dataclass
class Batch:
    """``items`` to send; ``existing`` the wire items to seed first (their older values)."""

    items: list[dict[str, Any]]
    existing: list[dict[str, Any]]


def batch(first_key: int, n: int) -> Batch:
    keys = range(first_key, first_key + n)
    return Batch(
        items=[item(k) for k in keys],
        existing=[item(k, old=True) for i, k in enumerate(keys) if i % 2 == 1],
    )


def parse_wire_datetime(text: str) -> datetime:
    """The benchmark's own dates are all ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


DB_COLUMNS = (
    "provider_cred_license_key",
    "provider_cred_key",
    "cred_license_type_key",
    "license_name",
    "license_number",
    "state",
    "specialty_code",
    "effective_date",
    "term_date",
    "psv_date",
    "entry_date",
    "entry_user",
    "update_date",
    "update_user",
)


def db_row(wire: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """The stored form of a wire item (what the floors write, already converted)."""
    return (
        wire["providerCredLicense_Key"],
        wire["providerCred_Key"],
        wire["credLicenseType_Key"],
        wire["license_Name"],
        wire["license_Number"],
        wire["state"],
        wire["specialty_Code"],
        parse_wire_datetime(wire["effective_Date"]),
        parse_wire_datetime(wire["term_Date"]),
        parse_wire_datetime(wire["psV_Date"]),
        now,
        ACTOR,
        now,
        ACTOR,
    )


HISTORY_COLUMNS = (
    "provider_cred_license_key",
    "provider_cred_key",
    "activity_id",
    "at",
    "user",
    "action",
    "changes",
)


def history_rows(prepared: Batch, activity_id: str, now: datetime) -> list[tuple[Any, ...]]:
    """The history rows the service writes for ``prepared`` (SPEC 4b), for the floor that
    includes them: one per item, its ``{field: [old, new]}`` for every field a create sets or
    an update changes, as JSON text (already converted, like every floor value)."""
    old = {w["providerCredLicense_Key"]: w for w in prepared.existing}
    rows = []
    for wire in prepared.items:
        key = wire["providerCredLicense_Key"]
        before = old.get(key)
        action = "created" if before is None else "updated"
        changes = {}
        for name, value in wire.items():
            if name == "providerCredLicense_Key":
                continue
            previous = None if before is None else before[name]
            if value != previous:
                changes[name] = [previous, value]
        rows.append(
            (key, CRED_KEY, activity_id, now, ACTOR, action, orjson.dumps(changes).decode())
        )
    return rows
