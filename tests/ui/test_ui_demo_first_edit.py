"""After the Quickstart's ``flask demo``, the demo user's first edit of a demo license is not
reported by the integrity review as "several editors within an hour": the demo's data has a
past (its history written a week or more ago, after the PSV dates it records), and its hash
chain still verifies."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit import utcnow
from app.demo.seed import SEED_USER
from app.history.models import LicenseChange
from app.integrity.rules import SEVERAL_EDITORS
from app.integrity.service import day_after, integrity_findings
from app.licenses.models import ProviderCredLicense
from app.licenses.service import upsert_licenses
from tests.factories import bare_license_item

DEMO_CRED = 1001


def demo_password(runner: Any) -> str:
    result = runner.invoke(args=["demo", "--database", "main"])
    assert result.exit_code == 0, result.output
    found = re.search(r"Log in:\s+user 'demo', password '([^']+)', database 'main'", result.output)
    assert found, result.output
    return found[1]


def verify_history(runner: Any) -> None:
    result = runner.invoke(args=["verify-history", "--database", "main"])
    assert result.exit_code == 0, result.output


def test_the_demo_users_first_edit_is_not_several_editors(
    runner: Any, client: Any, open_grid: Any, session_for: Any
) -> None:
    password = demo_password(runner)
    verify_history(runner)
    response = client.post(
        "/ui/login", data={"username": "demo", "password": password, "database": "main"}
    )
    assert response.status_code == 302, response.data
    with session_for() as session:
        key = session.scalar(
            select(func.min(ProviderCredLicense.provider_cred_license_key)).where(
                ProviderCredLicense.provider_cred_key == DEMO_CRED
            )
        )
    page = open_grid(DEMO_CRED)
    page.set(page.row(key), license_Name="Renamed by the demo user")
    assert "1 updated" in page.save().get_data(as_text=True)

    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    with session_for() as session:
        edits = session.scalars(
            select(LicenseChange).where(LicenseChange.provider_cred_license_key == key)
        ).all()
        findings = integrity_findings(session, today, day_after(today))
    assert [(change.user, change.action) for change in edits] == [
        (SEED_USER, "created"),
        ("demo", "updated"),
    ]
    assert [f for f in findings if f.rule == SEVERAL_EDITORS] == []
    assert findings == []  # nothing else of the demo's is found today either
    verify_history(runner)


def test_the_demo_history_is_dated_in_the_past_after_what_it_records(
    runner: Any, session_for: Any
) -> None:
    demo_password(runner)
    now = utcnow()
    with session_for() as session:
        changes = session.scalars(select(LicenseChange)).all()
        licenses = {
            row.provider_cred_license_key: row
            for row in session.scalars(select(ProviderCredLicense))
        }
    assert changes and len(changes) == len(licenses)
    for change in changes:
        license = licenses[change.provider_cred_license_key]
        assert change.at <= now - timedelta(days=6), change.at  # a week ago or more
        assert license.entry_date == license.update_date == change.at
        assert license.psv_date is None or license.psv_date < change.at
    assert len({change.at for change in changes}) > 5  # not all at one moment


def test_a_write_is_never_recorded_in_the_future(make_cred: Any, session_for: Any) -> None:
    make_cred(1)
    with session_for() as session, pytest.raises(ValueError, match="in the future"):
        upsert_licenses(
            session,
            1,
            [bare_license_item(5, 1)],
            actor="seed",
            activity_id="setup",
            recorded_at=datetime.max,
        )
