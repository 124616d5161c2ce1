"""The login log reaches standard error in a real process, successes included.

``credgrid.login`` writes a failure as a warning and a success at INFO. Nothing in a server
process (gunicorn, ``flask run``) configures logging for it, so Python's last-resort handler
printed the warnings alone, without a time, and dropped every ``login succeeded`` line that
docs/security.md promises. The test suite's own log capture hid that: it runs in a
subprocess, as a server does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPOSITORY, flask_environment, run_flask

LOG_IN = """
import base64, sys
from app import create_app
key, password = sys.argv[1:]
client = create_app().test_client()
for secret in ("wrong password", password):
    credentials = base64.b64encode(f"demo:{secret}".encode()).decode()
    client.post(
        "/user-authentication",
        headers={"vbasoftware-database": "demo", "x-api-key": key,
                 "Authorization": f"Basic {credentials}"},
    )
"""


def test_every_login_attempt_is_one_line_on_standard_error(tmp_path: Path) -> None:
    env = flask_environment(tmp_path / "instance", FLASK_LOGIN_FAILURE_DELAY_SECONDS="0")
    demo = run_flask(env, "demo")
    assert demo.returncode == 0, demo.stderr
    password = re.search(r"password '([^']+)'", demo.stdout)
    key = re.search(r"x-api-key: (cg_\S+)'", demo.stdout)
    assert password and key, demo.stdout

    run = subprocess.run(
        [sys.executable, "-c", LOG_IN, key.group(1), password.group(1)],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 0, run.stderr
    logins = [line for line in run.stderr.splitlines() if " via=api " in line]
    timestamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert len(logins) == 2, run.stderr
    assert re.fullmatch(
        timestamp + " WARNING login failed via=api user='demo' database=demo client=127.0.0.1"
        r" activity=[0-9a-f-]{36}",
        logins[0],
    )
    assert re.fullmatch(
        timestamp + " INFO login succeeded via=api user='demo' database=demo client=127.0.0.1"
        r" activity=[0-9a-f-]{36}",
        logins[1],
    )
    assert "wrong password" not in run.stderr and password.group(1) not in run.stderr
