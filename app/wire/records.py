"""The base of every VBAPI input schema: unknown fields raise, server-stamped fields are ignored."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, pre_load

#: The server-stamped audit fields of every VBAPI entity (SPEC section 1).
AUDIT_FIELDS = ("entry_Date", "entry_User", "update_Date", "update_User")


class ClientRecordSchema(Schema):
    """A record as a client writes it (SPEC section 1).

    An unknown field is an error, so a typo never passes silently; the audit fields belong to
    the server and are dropped without being parsed (generated clients echo them back).
    """

    class Meta:
        unknown = RAISE

    @pre_load
    def drop_server_stamped_fields(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict) and not data.keys().isdisjoint(AUDIT_FIELDS):
            return {k: v for k, v in data.items() if k not in AUDIT_FIELDS}
        return data


def term_date_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """A record's ``term_Date`` must not be before its ``effective_Date`` (loaded data)."""
    effective, term = data.get("effective_date"), data.get("term_date")
    if effective is not None and term is not None and term < effective:
        return {"term_Date": ["Must not be before effective_Date."]}
    return {}


def client_fields(schema: Schema) -> dict[str, str]:
    """Attribute name → JSON name of the fields a client writes, in declaration order."""
    return {name: field.data_key or name for name, field in schema.load_fields.items()}
