"""``flask --app app demo``: a ready-to-try database and the commands to try it with."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.auth.keys import issue_api_key
from app.auth.models import StaffUser
from app.auth.tokens import mint_token_for
from app.auth.users import create_user, set_password
from app.demo.seed import FIRST_CRED_KEY

DEMO_USER = "demo"

#: A server's base URL as ``demo`` prints it into a link and a curl command to paste into a
#: shell: http(s), a host name or address (IPv6 in brackets), a port, a path; nothing that a
#: shell reads (spaces, quotes, ``;``), no credentials, query or fragment.
BASE_URL = re.compile(
    r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%/-]*)?",
    re.IGNORECASE,
)


def is_base_url(value: str) -> bool:
    """Whether ``demo`` can print ``value`` as the server's address (``BASE_URL``)."""
    return BASE_URL.fullmatch(value) is not None


@dataclass
class DemoAccess:
    username: str
    password: str
    api_key: str
    id_token: str
    api_key_label: str


def prepare_demo_access(session: Session, secret: str, database: str, ttl: int) -> DemoAccess:
    """Give the demo user a fresh random password and issue a fresh API key and token.

    Reset on every run so the quickstart can print working credentials without any secret
    being stored in the repository.
    """
    password = secrets.token_urlsafe(12)
    user = session.scalar(select(StaffUser).where(StaffUser.username == DEMO_USER))
    if user is None:
        create_user(session, DEMO_USER, password, "editor")
    else:
        set_password(session, DEMO_USER, password)
    label = f"quickstart-{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    api_key = issue_api_key(session, label)
    session.commit()
    token = mint_token_for(session, secret, DEMO_USER, database, ttl, "id")
    return DemoAccess(DEMO_USER, password, api_key, token, label)


def lifetime(seconds: int) -> str:
    """``24 h``, ``90 min`` or ``45 s``: how long a token of ``TOKEN_TTL_SECONDS`` lives."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def instructions(access: DemoAccess, database: str, base_url: str, token_ttl: int) -> str:
    cred = FIRST_CRED_KEY
    item = {
        "providerCredLicense_Key": 900001,
        "providerCred_Key": cred,
        "credLicenseType_Key": 1,
        "license_Number": "MD-NY-123456",
        "state": "NY",
        "effective_Date": "2024-01-01",
        "term_Date": "2027-01-01",
    }
    body = json.dumps([item])
    return f"""
credgrid is ready (database {database!r}).

  Browse:   {base_url}/ui/
  Log in:   user {access.username!r}, password {access.password!r}, database {database!r}

  Try the batch API (token valid {lifetime(token_ttl)}):
    curl -s -X PUT {base_url}/provider-credentialing/{cred}/licenses-batch \\
      -H 'vbasoftware-database: {database}' \\
      -H 'x-api-key: {access.api_key}' \\
      -H 'Authorization: Bearer {access.id_token}' \\
      -H 'Content-Type: application/json' \\
      -d '{body}'
"""
