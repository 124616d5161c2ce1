"""Helpers of .ci/contract, so that it needs nothing but this venv's Python (no curl, no psql).

``login BASE_URL``: wait for the server, log in, print the idToken.
``pg-schema URL NAME create|drop``: make a fresh schema and print a URL that uses it, or drop it.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.request


def login(base: str) -> str:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    credentials = f"{os.environ['CREDGRID_USER']}:{os.environ['CREDGRID_PASSWORD']}"
    request = urllib.request.Request(
        f"{base}/user-authentication",
        method="POST",
        headers={
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "x-api-key": os.environ["CREDGRID_API_KEY"],
            "vbasoftware-database": os.environ["CREDGRID_DATABASE"],
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]["authenticationResult"]["idToken"]


def pg_schema(url: str, name: str, action: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql+psycopg")
    engine = create_engine(parsed)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        if action == "create":
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
    engine.dispose()
    with_schema = parsed.update_query_dict({"options": f"-csearch_path={name}"})
    return with_schema.render_as_string(hide_password=False)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    print(login(*arguments) if command == "login" else pg_schema(*arguments))
