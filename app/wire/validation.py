"""Validation of raw batch items against ``LicenseSchema``, with per-item error text."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from app.wire.fastload import fast_loader

FieldErrors = dict[str, list[str]]


def load_item(schema: Schema, raw: Any) -> tuple[dict[str, Any] | None, FieldErrors]:
    """Load one item; ``(data, {})`` when valid, ``(None, errors)`` otherwise.

    The schema's fast path (``app.wire.fastload``) loads the items it accepts with the same
    field code; every other item goes through ``schema.load``, which words the errors.
    """
    if not isinstance(raw, dict):
        return None, {"_item": ["Must be a JSON object."]}
    loader = fast_loader(schema)
    if loader is not None:
        data = loader.load(raw)
        if data is not None:
            return data, {}
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        return None, normalise_errors(exc.messages)


def normalise_errors(messages: Any) -> FieldErrors:
    """Flatten marshmallow's error structure to ``{field: [message, ...]}``."""
    if isinstance(messages, list):
        return {"_item": [str(m) for m in messages]}
    errors: FieldErrors = {}
    for name, value in messages.items():
        key = "_item" if name == "_schema" else str(name)
        if isinstance(value, dict):
            for message_list in normalise_errors(value).values():
                errors.setdefault(key, []).extend(message_list)
        elif isinstance(value, list):
            errors.setdefault(key, []).extend(str(m) for m in value)
        else:
            errors.setdefault(key, []).append(str(value))
    return errors


def describe_errors(errors: FieldErrors) -> str:
    """``license_Number: Longer than maximum length 50. state: …`` — every field, its reasons."""
    parts: list[str] = []
    for name, messages in errors.items():
        text = " ".join(messages)
        parts.append(text if name == "_item" else f"{name}: {text}")
    return " ".join(parts)
