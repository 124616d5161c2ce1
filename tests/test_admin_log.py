"""Each change an operator makes with the CLI is one line of ``credgrid.admin`` on standard
error: what changed, in which database, and who ran it where (OS user and host), never a
password or a key. In subprocesses, as an operator's shell runs them: the test suite's own log
capture would hide a missing handler."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPOSITORY, flask_environment, run_flask

TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def test_every_cli_change_is_one_line_naming_the_operator(tmp_path: Path) -> None:
    env = flask_environment(tmp_path / "instance")
    created = run_flask(env, "init-db")
    assert created.returncode == 0, created.stderr
    password = "a-new-password-1234"
    operator = r"operator='[^'@]+@[^']+'"
    for command, stdin, logged in (
        (
            ["create-user", "auditor", "--role", "viewer"],
            password,
            r"create-user user='auditor' role='viewer'",
        ),
        (
            ["users", "set-role", "auditor", "editor"],
            None,
            r"users set-role user='auditor' role='editor'",
        ),
        (["users", "set-password", "auditor"], password, r"users set-password user='auditor'"),
        (["users", "disable", "auditor"], None, r"users disable user='auditor'"),
        (["users", "enable", "auditor"], None, r"users enable user='auditor'"),
        (["users", "delete", "auditor", "--yes"], None, r"users delete user='auditor'"),
        (["create-api-key", "line\nbreak"], None, r"create-api-key label='line\\nbreak'"),
        (["revoke-api-key", "line\nbreak"], None, r"revoke-api-key label='line\\nbreak'"),
        (["purge"], None, r"purge idempotency_records=\d+ refresh_tokens=\d+"),
        (
            ["seed", "--providers", "2"],
            None,
            r"seed license_types=\d+ provider_creds=2 licenses=\d+",
        ),
        (
            ["demo"],
            None,
            r"demo user='demo' api_key='quickstart-\d{14}-[0-9a-f]{4}' license_types=0 "
            r"provider_creds=23 licenses=\d+",
        ),
        (["monitor-expirables"], None, r"monitor-expirables run=\d+ ran_by='[^']+'"),
        (
            ["integrity-report", "--since", "2026-01-01", "--until", "2026-01-31"],
            None,
            r"integrity-report since='2026-01-01' until='2026-01-31' findings=\d+",
        ),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *command],
            cwd=REPOSITORY,
            env=env,
            input=None if stdin is None else stdin + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, (command, run.stderr)
        admin = [line for line in run.stderr.splitlines() if " INFO cli " in line]
        assert len(admin) == 1, (command, run.stderr)
        assert re.fullmatch(f"{TIMESTAMP} INFO cli {logged} database=demo {operator}", admin[0]), (
            admin[0]
        )
        assert password not in run.stderr


def test_an_import_is_one_line_with_its_counts(tmp_path: Path) -> None:
    """``import-licenses`` changes licenses like no other command, and logged nothing: its
    line names the file, what became of its rows, and the activity id of its history
    entries. Written however the import ends: here with a failed row (exit status 1)."""
    env = flask_environment(tmp_path / "instance", FLASK_BATCH_MAX_ITEMS="1")
    for command in (["init-db"], ["seed", "--providers", "1"]):
        done = run_flask(env, *command)
        assert done.returncode == 0, done.stderr
    source = tmp_path / "in.csv"
    source.write_text(
        "providerCredLicense_Key,providerCred_Key,credLicenseType_Key,state\n"
        "900001,1001,1,NY\n900002,1001,1,NY\n900003,424242,1,NY\n"
    )
    for imported, unchanged in ((2, 0), (2, 2)):
        run = run_flask(env, "import-licenses", str(source), "--user", "nightly sync")
        assert run.returncode == 1, run.stderr
        (admin,) = [line for line in run.stderr.splitlines() if " INFO cli " in line]
        activity = re.search(r"\(activity ([0-9a-f-]{36})\)", run.stdout)
        assert activity, run.stdout
        assert re.fullmatch(
            f"{TIMESTAMP} INFO cli import-licenses source={re.escape(repr(str(source)))} "
            f"as_user='nightly sync' imported={imported} unchanged={unchanged} failed=1 "
            f"activity='{activity.group(1)}' database=demo operator='[^'@]+@[^']+'",
            admin,
        ), admin
