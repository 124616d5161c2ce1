"""The README and docs/: every link resolves inside the repository, and the README stays short.

A clone is all a reader has: a link to a file outside it, or to a heading that was renamed, is
broken for them. The README's test command is the one CI runs, so the two cannot drift.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 300
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest"
)

#: ``[text](target)`` and ``![alt](target)``, outside code; the target ends at a space or ``)``.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """The text without fenced blocks and inline code, where a ``[x](y)`` is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text(encoding="utf-8")))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(h) for h in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8")))}


def resolve(document: Path, target: str) -> tuple[Path, str]:
    """The file and the anchor a relative link names; fails when it leaves the repository."""
    assert not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I), f"{target}: not a relative link"
    assert not target.startswith("/"), f"{target}: absolute path"
    file_part, _, fragment = target.partition("#")
    assert ".." not in Path(file_part).parts, f"{target}: goes up a directory"
    path = (document.parent / file_part).resolve() if file_part else document
    assert path == ROOT or ROOT in path.parents, f"{target}: outside the repository"
    return path, fragment


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_to_a_file_in_the_repository(document: Path) -> None:
    for target in links(document):
        path, fragment = resolve(document, target)
        assert path.is_file(), f"{document.name}: {target} names no file in the repository"
        if fragment and path.suffix == ".md":
            assert fragment in anchors(path), f"{document.name}: {target}: no such heading"


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; reference goes in docs/"


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    assert TEST_COMMAND in (ROOT / "README.md").read_text(encoding="utf-8")
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("https://example.org/x", "not a relative link"),
        ("/etc/passwd", "absolute path"),
        ("../shared/SPEC.md", "goes up a directory"),
        ("docs/../../x.md", "goes up a directory"),
    ],
)
def test_links_that_leave_the_repository_are_refused(target: str, problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        resolve(ROOT / "README.md", target)


def test_anchors_follow_github_headings() -> None:
    assert anchor("Safe retries: `Idempotency-Key`") == "safe-retries-idempotency-key"
    assert anchor("Lists: paging and sorting") == "lists-paging-and-sorting"
    assert anchor("PostgreSQL") == "postgresql"


def test_links_inside_code_are_not_links() -> None:
    assert LINK.findall(prose("see [a](b.md) and `[c](d.md)`\n```\n[e](f.md)\n```\n")) == ["b.md"]


#: ``flask --app app COMMAND …`` as the docs write it, up to the end of its shell command.
FLASK_COMMAND = re.compile(r"flask --app app ([a-z][a-z-]*)((?: +[^`|;&#)\n ]+)*)")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
WORD = re.compile(r"^[a-z][a-z-]*$")


def flask_cli() -> click.Group:
    """The ``flask --app app`` command group: Flask's own commands and credgrid's."""
    from flask import Flask
    from flask.cli import FlaskGroup

    from app.cli import register_cli

    application = Flask("docs")
    register_cli(application)
    group = FlaskGroup()  # run, shell, routes
    for command in application.cli.commands.values():
        group.add_command(command)
    return group


def named_command(group: click.Group, words: list[str]) -> tuple[click.Command, list[str]]:
    """The command ``words`` start with (a group's subcommand included) and the words left."""
    name, *rest = words
    command = group.commands.get(name)
    assert command is not None, f"flask --app app {name}: no such command"
    if isinstance(command, click.Group) and rest and WORD.match(rest[0]):
        return named_command(command, rest)
    return command, rest


def options_of(command: click.Command) -> set[str]:
    """The options ``command`` takes: its parameters' and its ``--help`` (click adds that one
    apart from ``params``; a document telling the reader to run ``… --help`` is right)."""
    help_option = command.get_help_option(click.Context(command))
    parameters = [*command.params, *([help_option] if help_option else [])]
    return {option for parameter in parameters for option in parameter.opts}


def documented_invocations() -> list[tuple[str, list[str]]]:
    """Every ``flask --app app …`` of the docs, as (document, words after ``app``); and each
    command of the README's command table, as its first cell spells it (``users list|…``)."""
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in FLASK_COMMAND.finditer(text):
            if match.group(1) != "app":  # ``flask --app app <command>``
                found.append((document.name, [match.group(1), *match.group(2).split()]))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    for cell in re.findall(r"^\| `([^`]+)` \|", table, re.M):
        name, _, rest = cell.partition(" ")
        subcommands = re.match(r"^([a-z-]+(?:\\\|[a-z-]+)+)$", rest)
        for sub in subcommands.group(1).split("\\|") if subcommands else [None]:
            words = [name, sub] if sub else [name, *rest.split()]
            found.append(("README.md (command table)", words))
    return found


def test_every_documented_command_and_option_exists() -> None:
    """A reader copies ``flask --app app …`` from the docs: the command (a ``users``
    subcommand too) and each ``--option`` written with it must be the CLI's."""
    group = flask_cli()
    invocations = documented_invocations()
    assert len(invocations) > 30  # the pattern still finds them
    for document, words in invocations:
        command, rest = named_command(group, words)
        for option in LONG_OPTION.findall(" ".join(rest)):
            assert option in options_of(command), f"{document}: {' '.join(words)}: no {option}"


def test_a_misspelt_command_or_option_is_caught() -> None:
    group = flask_cli()
    with pytest.raises(AssertionError, match="no such command"):
        named_command(group, ["init-database"])
    command, rest = named_command(group, ["users", "set-role", "alice", "viewer", "--db", "x"])
    assert command.name == "set-role" and "--db" not in options_of(command)
    assert LONG_OPTION.findall(" ".join(rest)) == ["--db"]


def test_a_documented_help_option_is_the_cli_s() -> None:
    """``flask --app app integrity-report --help`` in a document is a command that works."""
    command, _ = named_command(flask_cli(), ["integrity-report", "--help"])
    assert "--help" in options_of(command) and "--since" in options_of(command)


#: ``FLASK_NAME`` anywhere in the docs, and the names of docs/ui.md's settings table.
SETTING = re.compile(r"FLASK_([A-Z][A-Z0-9_]*[A-Z0-9])")
UI_SETTING_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \|", re.M)
#: Flask's session settings that credgrid pins for every deployment; not settings to change.
PINNED = {"SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "SESSION_REFRESH_EACH_REQUEST"}


def documented_settings() -> set[str]:
    names = {n for d in [*DOCUMENTS, ROOT / "SECURITY.md"] for n in SETTING.findall(d.read_text())}
    return names | set(UI_SETTING_ROW.findall((ROOT / "docs" / "ui.md").read_text()))


def cli_environment() -> set[str]:
    """The ``FLASK_*`` names the ``flask`` command reads itself, not the app's settings:
    its own options (``FLASK_APP``, ``FLASK_DEBUG``) and each command's (``FLASK_RUN_PORT``),
    by click's ``auto_envvar_prefix``."""
    group = flask_cli()
    names = {str(parameter.name).upper() for parameter in group.params}
    for command in group.commands.values():
        names |= {f"{command.name}_{parameter.name}".upper() for parameter in command.params}
    return {name.replace("-", "_") for name in names}


def unread_settings(names: set[str]) -> list[str]:
    """Of the ``FLASK_*`` names ``names``, those neither app/config.py nor ``flask`` reads."""
    source = (ROOT / "app" / "config.py").read_text(encoding="utf-8")
    known = cli_environment()
    return sorted(n for n in names - known if not re.search(rf"\b{n}\b", source))


def test_every_documented_setting_is_read_by_the_app() -> None:
    """A ``FLASK_*`` name the code never reads is ignored without a word: each documented one
    is named in app/config.py (its default, its check, or the layering that reads it), or is
    one the ``flask`` command reads."""
    documented = documented_settings()
    assert len(documented) > 20  # the patterns still find them (none found was a pass)
    unknown = unread_settings(documented)
    assert unknown == [], f"documented but not in app/config.py: {unknown}"


def test_the_flask_command_s_own_variables_are_not_unknown_settings() -> None:
    """``FLASK_DEBUG=1 flask --app app run`` in a document is right: Flask reads it."""
    assert unread_settings({"APP", "DEBUG", "RUN_PORT", "PAGE_SIZ", "UI_PAGE_SIZE"}) == ["PAGE_SIZ"]


def test_every_setting_with_a_default_is_documented() -> None:
    from app.config import default_settings

    missing = sorted(set(default_settings("/instance")) - documented_settings() - PINNED)
    assert missing == [], f"settings of app/config.py no document names: {missing}"


#: A settings table's row: its setting (one name alone in the first cell) and its default cell.
DEFAULT_ROW = re.compile(r"^\| `(?:FLASK_)?([A-Z][A-Z0-9_]+)` \| ([^|]+) \|", re.M)
MIB = re.compile(r"^(\d+) MiB\b")


def documented_default(cell: str) -> str | None:
    """The value a default cell states (its first code span, a number, ``N MiB``), or None
    when it describes one in words (``random, made once…``)."""
    cell = cell.strip()
    if mib := MIB.match(cell):
        return str(int(mib.group(1)) * 1024 * 1024)
    if code := re.match(r"^`([^`]+)`", cell):
        return code.group(1)
    if number := re.match(r"^(\d+(?:\.\d+)?)\b", cell):
        return number.group(1)
    return None


def test_documented_defaults_are_the_defaults() -> None:
    import json

    from app.config import default_settings

    defaults = default_settings("<instance>")
    checked = 0
    for document in DOCUMENTS:
        for name, cell in DEFAULT_ROW.findall(document.read_text(encoding="utf-8")):
            stated = documented_default(cell)
            if name not in defaults or stated is None:
                continue
            value = defaults[name]
            spelt = json.dumps(value) if isinstance(value, dict | bool) else str(value)
            assert stated == spelt, f"{document.name}: {name} default {stated}, the code's {spelt}"
            checked += 1
    assert checked > 30


#: A repository path in code (`` `app/ui/date_cells.py` ``, `` `tests/x.py::test_y` ``).
REPOSITORY_PATH = re.compile(r"`((?:\.ci|app|bench|docs|scripts|static|templates|tests)/[^`\s:]*)")
#: Paths that runs make, not kept in git (the benchmark's results, the browser tests' shots).
GENERATED = ("bench/results/", "tests/artifacts/")


def test_every_repository_path_the_docs_name_exists() -> None:
    """A file the docs point a reader at (a module, a test, a script) that was renamed."""
    named = [
        (document.name, path)
        for document in [*DOCUMENTS, ROOT / "SECURITY.md"]
        for path in REPOSITORY_PATH.findall(document.read_text(encoding="utf-8"))
    ]
    assert len(named) > 30  # the pattern still finds them (none found was a pass)
    missing = [
        f"{document}: {path}"
        for document, path in named
        if not path.startswith(GENERATED) and not (ROOT / path).exists()
    ]
    assert missing == []


def test_every_dependency_is_in_the_readme_table() -> None:
    """The README says why each dependency is there: one added to pyproject.toml without a
    line there (the test extra's ``requests`` was missing) is a dependency nobody explained."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}
    readme = (ROOT / "README.md").read_text(encoding="utf-8").lower()
    table = readme.split("## dependencies", 1)[1].split("\n## ", 1)[0]
    missing = sorted(
        n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", table)
    )
    assert missing == [], f"not in the README's dependency table: {missing}"
