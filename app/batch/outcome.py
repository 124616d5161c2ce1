"""Per-item results of a batch, and their 207 wire form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
DELETED = "deleted"
INVALID = "invalid"
CONFLICT = "conflict"
NOT_FOUND = "not_found"
FAILED = "failed"
NOT_APPLIED = "not_applied"

Changes = dict[str, list[Any]]


@dataclass(slots=True)
class ItemOutcome:
    """What happened to item ``index``; ``status``/``body`` are its 207 entry."""

    index: int
    key: int | None
    status: int
    body: str
    action: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    changes: Changes | None = None
    current: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    def to_wire(self, key_field: str, with_changes: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": [{"key": key_field, "value": None if self.key is None else str(self.key)}],
            "status": self.status,
            "body": self.body,
        }
        if with_changes:
            entry["changes"] = self.changes if self.changes is not None else {}
        return entry


class ParentNotFound(LookupError):
    """The batch's parent record (e.g. the ProviderCred) does not exist in this database."""


class KeyTaken(Exception):
    """A new row's key was stored meanwhile by another writer (under another parent, whose
    lock this writer does not share): the engine rolls back, reads and plans again."""


class ConcurrentWrites(KeyTaken):
    """The batch lost that race on every attempt: answered as a busy database (503, retry)."""
