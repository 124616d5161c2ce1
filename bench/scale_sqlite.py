"""The ``--scale`` database on SQLite: the same licenses as ``bench/scale_data.py`` builds on
PostgreSQL, for measuring SQLite at a one-node size (``python -m bench --scale 200000``).

SQLite has no ``generate_series`` in every build and spells dates as SQLAlchemy writes them
(``YYYY-MM-DD HH:MM:SS.ffffff``), so the rows are made in Python, with the same deterministic
functions of the row number as the PostgreSQL build (so the spreads are the same: about 8 %
expired, 8 % within 90 days, 2 % without a term date, PSV 3 % missing and 6 % overdue), and
inserted through the models' tables in chunks; each license's one history row is hash-chained
by the application's own ``app.history.chain``. 200,000 licenses take some 20 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from app.credentials.models import ProviderCred
from app.history.chain import GENESIS, canonical, link
from app.history.models import LicenseChange, LicenseHistoryHead
from app.license_types.models import CredLicenseType
from app.licenses.models import ProviderCredLicense
from bench.scale_data import BIG_CRED_LICENSES, LICENSE_TYPES, STATES

CHUNK = 10_000
EPOCH = datetime(2018, 1, 1)


def build(connection: Connection, licenses: int) -> dict[str, int]:
    """Fill the (migrated, empty) tables of a SQLite database; returns the row counts."""
    now = datetime.utcnow().replace(tzinfo=None)  # noqa: DTZ003 - stored values are naive UTC
    creds = max(2, licenses // 5)
    connection.execute(
        insert(CredLicenseType),
        [
            {
                "cred_license_type_key": key,
                "display": f"TYPE{key}",
                "description": f"License type {key}",
                "entry_date": now,
                "update_date": now,
            }
            for key in range(1, LICENSE_TYPES + 1)
        ],
    )
    for chunk in _chunks(range(1, creds + 1)):
        connection.execute(insert(ProviderCred), [_cred(key, now) for key in chunk])
    big = min(BIG_CRED_LICENSES, licenses // 2)
    for chunk in _chunks(range(1, licenses + 1)):
        rows = [_license(key, big, creds - 1, now) for key in chunk]
        connection.execute(insert(ProviderCredLicense), rows)
        history = [_history(row) for row in rows]
        connection.execute(insert(LicenseChange), history)
        connection.execute(
            insert(LicenseHistoryHead),
            [
                {
                    "provider_cred_license_key": h["provider_cred_license_key"],
                    "row_hash": h["row_hash"],
                }
                for h in history
            ],
        )
    return {"licenses": licenses, "provider_creds": creds, "history": licenses}


def _chunks(keys: range) -> Iterator[range]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


def _cred(key: int, now: datetime) -> dict[str, Any]:
    return {
        "provider_cred_key": key,
        "provider_id": f"PRV{key:08d}",
        "cred_type_key": 1,
        "effective_date": datetime(2020, 1, 1),
        "cred_status": "Active",
        "specialty_code": f"SP{key % 40}",
        "entry_date": now,
        "entry_user": "bench",
        "update_date": now,
    }


def _license(g: int, big: int, others: int, now: datetime) -> dict[str, Any]:
    """License ``g``: the PostgreSQL build's formulas (bench/scale_data.py), in Python."""
    r1 = ((g * 2654435761) % 1000003) / 1000003.0
    r2 = ((g * 40503 + 12345) % 999983) / 999983.0
    state = STATES[(g * 7919) % len(STATES)]
    if r1 < 0.02:
        term = None
    elif r1 < 0.10:
        term = now - timedelta(days=(r1 - 0.02) / 0.08 * 730)
    elif r1 < 0.18:
        term = now + timedelta(days=(r1 - 0.10) / 0.08 * 90)
    else:
        term = now + timedelta(days=90 + (r1 - 0.18) / 0.82 * 1000)
    if r2 < 0.03:
        psv = None
    elif r2 < 0.09:
        psv = now - timedelta(days=121 + (r2 - 0.03) / 0.06 * 600)
    else:
        psv = now - timedelta(days=(r2 - 0.09) / 0.91 * 119)
    entered = now - timedelta(days=g % 1095)
    return {
        "provider_cred_license_key": g,
        "provider_cred_key": 1 if g <= big else 2 + (g - big - 1) % others,
        "cred_license_type_key": 1 + g % LICENSE_TYPES,
        "license_name": f"License {g}",
        "license_number": f"{state}-{g:09d}",
        "state": state,
        "specialty_code": f"SP{g % 40}",
        "effective_date": EPOCH + timedelta(days=g % 1500),
        "term_date": term,
        "psv_date": psv,
        "entry_date": entered,
        "entry_user": "bench",
        "update_date": entered,
        "update_user": "bench",
    }


def _history(row: dict[str, Any]) -> dict[str, Any]:
    """The license's one history row ("created"), sealed as the service seals it."""
    term = row["term_date"]
    changes = {
        "state": [None, row["state"]],
        "term_Date": [None, None if term is None else term.isoformat()],
    }
    key, cred, at = row["provider_cred_license_key"], row["provider_cred_key"], row["entry_date"]
    content = canonical(key, cred, "bulk-load", at, "bench", "created", changes)
    return {
        "id": key,
        "provider_cred_license_key": key,
        "provider_cred_key": cred,
        "activity_id": "bulk-load",
        "at": at,
        "user": "bench",
        "action": "created",
        "changes": changes,
        "row_hash": link(GENESIS, content),
    }
