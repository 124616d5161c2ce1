"""A schema's fast path: the same field code as ``Schema.load``, without its per-item machinery.

The one place credgrid reads another library's internals (marshmallow's hook registry and
``Field._deserialize``): it is the largest measured gain of the batch path, it only ever accepts
what ``Schema.load`` accepts, and marshmallow is pinned in pyproject.toml to the minors tested.

``Schema.load`` costs tens of microseconds per item, mostly in marshmallow's bookkeeping (error
stores, closures, hook dispatch), not in the checks. ``FastLoader`` is derived from a schema's
declared load fields and hooks and runs, for one item, exactly what ``load`` runs: the schema's
``pre_load`` processors, each field's own ``_deserialize`` (or its whole ``deserialize`` when the
field has validators or field-level processors), the unknown-field rule, the ``validates_schema``
hooks and the ``post_load`` processors.

It only ever *accepts*: an item it cannot load cleanly (any error, or anything it is not sure
about) answers ``None`` and the caller falls back to ``schema.load``, which produces the error
messages. So the schema stays the single source of validity and of error text; the property test
in ``tests/test_fastload.py`` checks the two agree on generated valid and invalid items.
A schema using a feature the fast path does not mirror gets no fast path at all (``build``
returns ``None``) and is always loaded by ``schema.load``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, missing
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

_STOCK_DESERIALIZE = fields.Field.deserialize

# (attribute, data_key, deserialize(value, data_key, data), load_default, required, allow_none)
_FieldPlan = tuple[str, str, Callable[..., Any], Any, bool, bool]


class FastLoader:
    """Loads one item as ``schema.load`` would, or answers ``None`` (then use the schema)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.unknown = schema.unknown
        self.plan: list[_FieldPlan] = []
        for attr_name, field in schema.load_fields.items():
            data_key = field.data_key if field.data_key is not None else attr_name
            full = (
                type(field).deserialize is not _STOCK_DESERIALIZE
                or field.validators
                or field.pre_load
                or field.post_load
            )
            deserialize = field.deserialize if full else field._deserialize
            self.plan.append(
                (
                    field.attribute or attr_name,
                    data_key,
                    deserialize,
                    field.load_default,
                    field.required,
                    field.allow_none,
                )
            )
        self.known_keys = frozenset(key for _, key, *_ in self.plan)
        # Bound hook methods, called as marshmallow calls them for one item (``supports``
        # has ruled out collection-level and pass_original hooks).
        hooks = type(schema)._hooks
        self.pre_load = [getattr(schema, name) for name, _, _ in hooks[PRE_LOAD]]
        self.schema_validators = [getattr(schema, name) for name, _, _ in hooks[VALIDATES_SCHEMA]]
        self.post_load = [getattr(schema, name) for name, _, _ in hooks[POST_LOAD]]

    def load(self, raw: Any) -> dict[str, Any] | None:
        """The loaded item, or ``None`` when the schema must decide (it may be invalid)."""
        if type(raw) is not dict:
            return None
        unknown = self.unknown
        try:
            data = raw
            for processor in self.pre_load:
                data = processor(data, many=False, partial=None, unknown=unknown)
            if type(data) is not dict:
                return None
            if unknown == RAISE and not data.keys() <= self.known_keys:
                return None
            result: dict[str, Any] = {}
            for attr, data_key, deserialize, load_default, required, allow_none in self.plan:
                value = data.get(data_key, missing)
                if value is missing:
                    if required:
                        return None
                    if load_default is missing:
                        continue
                    result[attr] = load_default() if callable(load_default) else load_default
                elif value is None:
                    if not allow_none:
                        return None
                    result[attr] = None
                else:
                    result[attr] = deserialize(value, data_key, data)
            for validator in self.schema_validators:
                validator(result, partial=None, many=False, unknown=unknown)
            for processor in self.post_load:
                result = processor(result, many=False, partial=None, unknown=unknown)
        except ValidationError:
            return None
        return result


def supports(schema: Schema) -> bool:
    """Whether ``FastLoader`` mirrors everything ``schema.load`` would do for one item."""
    hooks = type(schema)._hooks
    if schema.many or schema.partial or schema.unknown not in (RAISE, EXCLUDE):
        return False
    if hooks[VALIDATES]:
        return False
    for tag in (PRE_LOAD, POST_LOAD, VALIDATES_SCHEMA):
        for _name, pass_collection, options in hooks[tag]:
            if pass_collection or options.get("pass_original"):
                return False
    return all("." not in (field.attribute or name) for name, field in schema.load_fields.items())


_loaders: weakref.WeakKeyDictionary[Schema, FastLoader | None] = weakref.WeakKeyDictionary()


def fast_loader(schema: Schema) -> FastLoader | None:
    """The schema's fast path, built once per schema instance; ``None`` if it has none."""
    try:
        return _loaders[schema]
    except KeyError:
        loader = FastLoader(schema) if supports(schema) else None
        _loaders[schema] = loader
        return loader
