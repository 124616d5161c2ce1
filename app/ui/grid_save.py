"""Save of the grid: the plan's rows go to the license service, its outcomes back onto rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.batch.outcome import ItemOutcome
from app.licenses.service import delete_licenses, upsert_licenses
from app.ui.grid import GridLine, SubmittedRow, plan_save, reconcile
from app.ui.grid_data import load_licenses


def save_grid(
    session: Session,
    provider_cred_key: int,
    rows: Sequence[SubmittedRow],
    *,
    actor: str,
    activity_id: str,
) -> list[GridLine]:
    """Deletes first, then creates/updates, both through the service (which commits).

    Raises ``ParentNotFound`` if the ProviderCred no longer exists.
    """
    plan = plan_save(rows, provider_cred_key)
    outcomes: dict[int, ItemOutcome] = {}
    if plan.delete_keys:
        results = delete_licenses(
            session,
            provider_cred_key,
            plan.delete_keys,
            actor=actor,
            activity_id=activity_id,
            expected_versions=plan.delete_versions,
        )
        outcomes.update(zip(plan.delete_rows, results, strict=True))
    if plan.items:
        results = upsert_licenses(
            session,
            provider_cred_key,
            plan.items,
            actor=actor,
            activity_id=activity_id,
            expected_versions=plan.item_versions,
        )
        outcomes.update(zip(plan.item_rows, results, strict=True))
    stored = load_licenses(session, provider_cred_key)
    return reconcile(rows, plan, outcomes, stored)
