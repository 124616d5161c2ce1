"""Idempotent, realistic demo data: license types, provider credentials, licenses.

Deterministic (fixed random seed) and relative to today, so a fresh database always shows a
spread of states, expired licenses and licenses expiring within 30/60/90 days. Re-running it
adds only what is missing and never overwrites a row someone has edited. Licenses are written
through the license service, like every other license write.

The data has a past: each provider credential and its licenses are recorded (audit stamps,
history, its hash chain) in office hours one to five days after their latest primary-source
verification, and at least a week ago; the license types a day before the first of them.
The licenses go through the license service with ``recorded_at``, so the chain is sealed as
for any write and ``flask verify-history`` holds. (Stamped with the moment of seeding, the
first edit a person made to a demo license was reported by the integrity review as several
editors within an hour: "seed", then them.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.credentials.models import ProviderCred
from app.license_types.models import CredLicenseType
from app.licenses.service import upsert_licenses
from app.wire.fields import USPS_STATE_CODES, format_wire_datetime, parse_wire_datetime

SEED_USER = "seed"

LICENSE_TYPES = [
    (1, "MD", "Medical Doctor (state medical license)"),
    (2, "DO", "Doctor of Osteopathic Medicine"),
    (3, "DEA", "DEA controlled-substance registration"),
    (4, "CDS", "State controlled dangerous substance registration"),
    (5, "RN", "Registered Nurse"),
    (6, "NP", "Nurse Practitioner"),
    (7, "PA", "Physician Assistant"),
    (8, "DDS", "Doctor of Dental Surgery"),
    (9, "PharmD", "Pharmacist"),
    (10, "LCSW", "Licensed Clinical Social Worker"),
    (11, "PT", "Physical Therapist"),
    (12, "BOARD", "Board certification"),
]
SPECIALTIES = ["FM", "IM", "PED", "CARD", "ORTH", "PSY", "DERM", "OBGYN", "EM", "ONC", "NEUR"]
ORGANIZATIONS = ["Northwind Health Plan", "Contoso Care", "Fabrikam Medical Group"]
FIRST_CRED_KEY = 1001
LICENSE_KEY_BASE = 500_000
RANDOM_SEED = 20240101


@dataclass
class SeedReport:
    license_types: int = 0
    provider_creds: int = 0
    licenses: int = 0


#: Provider credentials built and written at a time: ``--providers 100000`` held every one
#: with its licenses and its random generator (about 5.5 KB a provider; 700 MB at the most).
SEED_CHUNK = 1000


def seed_demo_data(session: Session, providers: int = 25, activity_id: str = "seed") -> SeedReport:
    """Add whatever part of the demo data set is missing; returns how much was added.

    The provider credentials are built and written ``SEED_CHUNK`` at a time, so memory does
    not grow with ``providers``; the license types are dated from the earliest of them, found
    by a first pass that keeps nothing (each one's data depends on its key alone).
    """
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    report = SeedReport()
    keys = range(FIRST_CRED_KEY, FIRST_CRED_KEY + providers)
    first = min((_demo_cred(key, today)[2] for key in keys), default=today)
    report.license_types = _seed_license_types(session, first - LEAD_TIME)
    for start in range(0, providers, SEED_CHUNK):
        chunk = [_demo_cred(key, today) for key in keys[start : start + SEED_CHUNK]]
        report.provider_creds += _insert_missing_creds(session, [cred for cred, _, _ in chunk])
        session.commit()
        for cred, licenses, recorded in chunk:
            outcomes = upsert_licenses(
                session,
                cred.provider_cred_key,
                licenses,
                actor=SEED_USER,
                activity_id=activity_id,
                mode="create",
                recorded_at=recorded,
            )
            report.licenses += sum(1 for o in outcomes if o.status == 201)
        del chunk
    return report


def _demo_cred(key: int, today: datetime) -> tuple[ProviderCred, list[dict[str, object]], datetime]:
    """The demo provider credential of ``key``, its licenses and when they were recorded."""
    rng = _rng_for(key)
    cred = _provider_cred(rng, key, today)
    licenses = _licenses_for(rng, key, today)
    cred.entry_date = cred.update_date = recorded = recorded_at(key, licenses, today)
    return cred, licenses, recorded


#: The latest a demo record was written: this many days before today.
NEWEST_RECORD_DAYS = 7
#: When a provider credential's licenses have no PSV date: recorded this many days ago.
UNVERIFIED_RECORD_DAYS = 30
#: How long before the first provider credential the license types were set up.
LEAD_TIME = timedelta(days=1)


def recorded_at(cred_key: int, items: list[dict[str, object]], today: datetime) -> datetime:
    """When the licenses of ``cred_key`` were recorded: between 09:00 and 17:00 UTC of a day
    one to five days after their latest PSV date, and a week ago at the latest (so never
    before the verification it records, nor just now)."""
    rng = random.Random(f"{RANDOM_SEED}:{cred_key}:recorded")
    texts = [item.get("psV_Date") for item in items]
    verified = [parse_wire_datetime(text) for text in texts if isinstance(text, str)]
    latest = max((day for day in verified if day is not None), default=None)
    if latest is None:
        day = today - timedelta(days=UNVERIFIED_RECORD_DAYS)
    else:
        day = min(
            latest + timedelta(days=rng.randint(1, 5)),
            today - timedelta(days=NEWEST_RECORD_DAYS),
        )
    return day + timedelta(hours=rng.randint(9, 16), minutes=rng.randint(0, 59))


def _rng_for(cred_key: int) -> random.Random:
    """One generator per provider credential, so its data does not depend on ``providers``."""
    return random.Random(f"{RANDOM_SEED}:{cred_key}")


def _seed_license_types(session: Session, now: datetime) -> int:
    existing = set(session.scalars(select(CredLicenseType.cred_license_type_key)))
    added = 0
    for key, display, description in LICENSE_TYPES:
        if key not in existing:
            session.add(
                CredLicenseType(
                    cred_license_type_key=key,
                    display=display,
                    description=description,
                    entry_date=now,
                    entry_user=SEED_USER,
                    update_date=now,
                    update_user=SEED_USER,
                )
            )
            added += 1
    return added


def _provider_cred(rng: random.Random, key: int, today: datetime) -> ProviderCred:
    start = today - timedelta(days=rng.randint(200, 2000))
    return ProviderCred(
        provider_cred_key=key,
        provider_id=f"PRV{key:05d}",
        cred_type_key=rng.choice([1, 2]),
        effective_date=start,
        cred_status=rng.choice(["Active", "Active", "Pending", "Recredential"]),
        cred_organization=rng.choice(ORGANIZATIONS),
        specialty_code=rng.choice(SPECIALTIES),
        application_start_date=start - timedelta(days=60),
        committee_date=start - timedelta(days=10),
        entry_user=SEED_USER,
        update_user=SEED_USER,
    )


def _insert_missing_creds(session: Session, creds: list[ProviderCred]) -> int:
    keys = [c.provider_cred_key for c in creds]
    existing = set(
        session.scalars(
            select(ProviderCred.provider_cred_key).where(ProviderCred.provider_cred_key.in_(keys))
        )
    )
    missing = [c for c in creds if c.provider_cred_key not in existing]
    session.add_all(missing)
    return len(missing)


# Days from today to a license's term date: expired, within 30/60/90 days, and comfortably valid.
TERM_OFFSETS = [-400, -45, -3, 5, 12, 25, 38, 52, 70, 85, 200, 365, 540, 730, 900]
STATES = sorted(USPS_STATE_CODES)
COMMON_STATES = ["CA", "NY", "TX", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "WA", "DC", "PR"]


def _licenses_for(rng: random.Random, cred_key: int, today: datetime) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for n in range(rng.randint(1, 6)):
        type_key, display, description = rng.choice(LICENSE_TYPES)
        state = rng.choice(COMMON_STATES) if rng.random() < 0.8 else rng.choice(STATES)
        term = today + timedelta(days=rng.choice(TERM_OFFSETS))
        effective = term - timedelta(days=rng.choice([365, 730, 1095]))
        psv = today - timedelta(days=rng.choice([10, 45, 90, 130, 200, 400]))
        items.append(
            {
                "providerCredLicense_Key": LICENSE_KEY_BASE + cred_key * 10 + n,
                "providerCred_Key": cred_key,
                "credLicenseType_Key": type_key,
                "license_Name": description,
                "license_Number": f"{display}-{state}-{rng.randint(10000, 999999)}",
                "state": state,
                "specialty_Code": rng.choice(SPECIALTIES),
                "effective_Date": format_wire_datetime(effective),
                "term_Date": format_wire_datetime(term),
                "psV_Date": None if rng.random() < 0.1 else format_wire_datetime(psv),
            }
        )
    return items
