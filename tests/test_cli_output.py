"""Standard output that cannot be written ends every command with one line, not a traceback."""

from __future__ import annotations

import errno
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.cli.output import with_guarded_output
from tests.helpers import CLOSED, flask_environment, run_flask, run_flask_writing_to

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")

FULL_DISK = "Error: cannot write the output: No space left on device\n"


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = flask_environment(tmp_path_factory.mktemp("output") / "instance")
    assert run_flask(env, "demo").returncode == 0
    return env


#: A command that changes or reports something logs it on standard error first
#: (``credgrid.admin``, ``app.cli.log_admin``), whatever becomes of its output.
ADMIN_LOG_LINE = re.compile(r"^\S+ \S+ INFO cli .*\n", re.MULTILINE)


def without_admin_log(stderr: str) -> str:
    return ADMIN_LOG_LINE.sub("", stderr)


def to_full_disk(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    with open("/dev/full", "w") as full:
        return run_flask_writing_to(env, full, *command)


@pytest.mark.parametrize(
    "command",
    [
        ("users", "list"),
        ("integrity-report", "--since", "2020-01-01"),
        ("integrity-report", "--since", "2020-01-01", "--format", "csv"),
        ("verify-history",),
        ("monitor-expirables",),
        ("init-db",),
    ],
    ids=" ".join,
)
def test_a_full_disk_is_one_line_and_a_failure(demo_env: dict[str, str], command: Any) -> None:
    """``> /dev/full`` was an OSError traceback, printed by every command that writes."""
    result = to_full_disk(demo_env, *command)
    assert (result.returncode, without_admin_log(result.stderr)) == (1, FULL_DISK)


def test_the_export_keeps_its_own_message(demo_env: dict[str, str]) -> None:
    result = to_full_disk(demo_env, "export-licenses")
    assert (result.returncode, result.stderr) == (
        1,
        "Error: Cannot write -: No space left on device; the export is incomplete.\n",
    )


def test_a_reader_that_has_gone_still_ends_a_command_quietly(demo_env: dict[str, str]) -> None:
    reading, writing = os.pipe()
    os.close(reading)
    try:
        result = run_flask_writing_to(demo_env, writing, "users", "list")
    finally:
        os.close(writing)
    assert (result.returncode, result.stderr) == (1, "")


def test_an_error_of_another_file_is_not_called_an_output_error(tmp_path: Path) -> None:
    """Only standard output's errors are reported as the output's."""

    def write_elsewhere() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "other"))

    with pytest.raises(OSError, match="other") as raised:
        with_guarded_output(write_elsewhere)()
    assert type(raised.value) is OSError


def with_closed_output(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    """``flask … >&-``: the process starts with no standard output at all."""
    return run_flask_writing_to(env, CLOSED, *command)


def test_a_closed_standard_output_is_one_line_and_a_failure(demo_env: dict[str, str]) -> None:
    """Started with standard output closed, a command's output was dropped without a word and
    the command ended with status 0."""
    result = with_closed_output(demo_env, "integrity-report", "--since", "2020-01-01")
    assert (result.returncode, without_admin_log(result.stderr)) == (
        1,
        "Error: cannot write the output: standard output is closed\n",
    )


def test_no_api_key_is_made_that_could_not_be_shown(demo_env: dict[str, str]) -> None:
    result = with_closed_output(demo_env, "create-api-key", "never-shown")
    assert (result.returncode, result.stderr) == (
        1,
        "Error: Standard output is closed: the new key could not be shown.\n",
    )
    # The label is still free: nothing was stored.
    created = run_flask(demo_env, "create-api-key", "never-shown")
    assert created.returncode == 0, created.stderr


def test_no_api_key_is_stored_that_a_full_disk_kept_from_being_shown(
    demo_env: dict[str, str],
) -> None:
    """``create-api-key LABEL > /dev/full`` stored the key, then failed to print it: a key
    nobody has, under a label that stays taken for good (revoked labels are kept)."""
    result = to_full_disk(demo_env, "create-api-key", "full-disk")
    assert (result.returncode, without_admin_log(result.stderr)) == (1, FULL_DISK)
    assert "create-api-key" not in result.stderr  # no admin line for a key that was not made
    # The label is still free: nothing was stored.
    created = run_flask(demo_env, "create-api-key", "full-disk")
    assert created.returncode == 0, created.stderr
