"""Small helpers shared by the API route tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from app.auth.keys import issue_api_key
from app.auth.tokens import mint_token_for
from app.auth.users import create_user
from app.tenancy import session_scope
from tests.factories import provider_cred_row


def basic(username: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic credentials (the login route's)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def data(response: Any) -> Any:
    body = response.get_json()
    assert body["error"] is None, body
    return body["data"]


def problem(response: Any) -> dict[str, Any]:
    """The problem object of an error response, after checking the envelope around it."""
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["data"] is None
    assert body["debug"]["activityID"] == response.headers["X-Activity-ID"]
    assert body["error"]["status"] == response.status_code
    return body["error"]


def pagination(response: Any) -> dict[str, int]:
    return json.loads(response.headers["x-pagination"])


def seed_editor_and_cred(application: Any, database: str, username: str) -> dict[str, str]:
    """Write to ``database`` of ``application``: ``username``, an editor (password ``correct
    horse``) with an API key, and ProviderCred 1. Returns the headers of that editor's API
    client: the database, the key and a bearer token signed with the app's secret."""
    with application.app_context(), session_scope(database) as session:
        create_user(session, username, "correct horse", "editor")
        key = issue_api_key(session, f"{username}'s key")
        session.add(provider_cred_row(1))
        session.commit()
        secret = application.config["SECRET_KEY"]
        token = mint_token_for(session, secret, username, database, 3600, "id")
    return {
        "vbasoftware-database": database,
        "x-api-key": key,
        "Authorization": f"Bearer {token}",
    }
