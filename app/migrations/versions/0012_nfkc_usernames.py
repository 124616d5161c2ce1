"""users: every stored name in Unicode NFKC, the form every login and command now looks up

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:00:00

Names are now normalised (NFKC, without spaces around them) wherever they come in, so a name
stored before in another form (a decomposed ``é``, the ligature ``ﬀ``, full-width letters)
would no longer be found: it is rewritten in that form, and so is the name on its refresh
tokens and on its idempotency records (an answer is replayed to the user named as the token
names her, which is now the NFKC form: a record kept under the old form would be missed, and
a retried batch applied again). Two users whose names become one, or a name that would no
longer fit the column, are not merged or cut: the migration refuses, naming them, and changes
nothing; the operator renames or deletes one of them (with the release before this one, or in
SQL) and runs ``init-db`` again. The downgrade keeps the normalised names (they are valid names
there too).
The normalisation is copied here (no application imports but the error it raises).
"""

import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from app.schema import MigrationError

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

USERNAME_LENGTH = 20

users = sa.table("staff_user", sa.column("id", sa.Integer), sa.column("username", sa.String))
tokens = sa.table(
    "refresh_token", sa.column("user_id", sa.Integer), sa.column("username", sa.String)
)
idempotency_records = sa.table(
    "idempotency_record",
    sa.column("api_key_id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("idempotency_key", sa.String),
)


def _normalized(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    by_name: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user_id, username in rows:
        by_name[_normalized(username)].append((user_id, username))
    problems = [
        f"{len(same)} users ({_listed(same)}) would all be {name!r}"
        for name, same in by_name.items()
        if len(same) > 1
    ] + [
        f"user {_listed(same)} would be {name!r}, longer than {USERNAME_LENGTH} characters"
        for name, same in by_name.items()
        if len(name) > USERNAME_LENGTH
    ]
    if problems:
        raise MigrationError(
            "User names are now compared in Unicode NFKC form, and "
            + "; ".join(problems)
            + ". Nothing was changed: rename or delete the users named (in SQL, or with the "
            "previous release's 'users delete'), then run init-db again."
        )
    for name, [(user_id, username)] in by_name.items():
        if name != username:
            connection.execute(users.update().where(users.c.id == user_id).values(username=name))
            connection.execute(
                tokens.update().where(tokens.c.user_id == user_id).values(username=name)
            )
            connection.execute(
                idempotency_records.update()
                .where(
                    idempotency_records.c.username == username,
                    ~sa.exists().where(*_same_key_under(name)),
                )
                .values(username=name)
            )


def _same_key_under(name: str) -> list[sa.ColumnElement[bool]]:
    """A record of the same API key and idempotency key under ``name`` already (a deleted
    user's, kept until purged): the unique key forbids a second; the old form's record stays
    as it is, never replayed, as before."""
    other = idempotency_records.alias("other")
    return [
        other.c.api_key_id == idempotency_records.c.api_key_id,
        other.c.idempotency_key == idempotency_records.c.idempotency_key,
        other.c.username == name,
    ]


def _listed(users_: list[tuple[int, str]]) -> str:
    return ", ".join(f"id {user_id} {username!r}" for user_id, username in users_)


def downgrade() -> None:
    """The normalised names stay: nothing records their former forms."""
