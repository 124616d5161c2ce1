"""Unbound extensions, bound to the app in ``create_app``."""

from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: ``info`` key of a schema object that exists on one dialect only (a migration creates it
#: there alone): comparisons of the models with a database of another dialect leave it out
#: (``app.schema.include_for``).
DIALECT_ONLY = "dialect_only"


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention, so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, disable_autonaming=True)
csrf = CSRFProtect()
