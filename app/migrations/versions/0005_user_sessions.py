"""users: session and token stamps, disabled flag; refresh tokens bound to a user and a family

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-04 16:00:00

Every existing user gets its own random stamps (so nothing a user already holds changes
meaning), ``disabled`` false. Existing refresh tokens are bound to the user of their name and
to that user's new token stamp, each in a family of its own. A refresh also presents the
expired ID token, and one issued before this revision names no user id or stamp, which
verification now requires: such a refresh is refused (401), and the client logs in again once.
The migration keeps its own copy of what it needs (no application imports).
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

STAMP_LENGTH = 32

users = sa.table(
    "staff_user",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("session_stamp", sa.String),
    sa.column("token_stamp", sa.String),
    sa.column("disabled", sa.Boolean),
)
tokens = sa.table(
    "refresh_token",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("user_id", sa.Integer),
    sa.column("token_stamp", sa.String),
    sa.column("family", sa.String),
)


def _stamp() -> str:
    return secrets.token_hex(STAMP_LENGTH // 2)


def upgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_stamp", sa.String(STAMP_LENGTH), nullable=True))
        batch_op.add_column(sa.Column("token_stamp", sa.String(STAMP_LENGTH), nullable=True))
        batch_op.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("token_stamp", sa.String(STAMP_LENGTH), nullable=True))
        batch_op.add_column(sa.Column("family", sa.String(STAMP_LENGTH), nullable=True))
        batch_op.add_column(sa.Column("used_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_refresh_token_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refresh_token_family"), ["family"], unique=False)

    connection = op.get_bind()
    stamps: dict[str, tuple[int, str]] = {}
    for user_id, username in connection.execute(sa.select(users.c.id, users.c.username)).all():
        stamp = _stamp()
        stamps[username] = (user_id, stamp)
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(session_stamp=_stamp(), token_stamp=stamp)
        )
    rows = connection.execute(sa.select(tokens.c.id, tokens.c.username)).all()
    for token_id, username in rows:
        user_id, stamp = stamps.get(username, (None, None))
        connection.execute(
            tokens.update()
            .where(tokens.c.id == token_id)
            .values(user_id=user_id, token_stamp=stamp, family=_stamp())
        )

    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.alter_column(
            "session_stamp", existing_type=sa.String(STAMP_LENGTH), nullable=False
        )
        batch_op.alter_column("token_stamp", existing_type=sa.String(STAMP_LENGTH), nullable=False)
        batch_op.alter_column("disabled", existing_type=sa.Boolean(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_token_family"))
        batch_op.drop_index(batch_op.f("ix_refresh_token_user_id"))
        batch_op.drop_column("used_at")
        batch_op.drop_column("family")
        batch_op.drop_column("token_stamp")
        batch_op.drop_column("user_id")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_column("disabled")
        batch_op.drop_column("token_stamp")
        batch_op.drop_column("session_stamp")
