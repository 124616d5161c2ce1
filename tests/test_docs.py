"""The README and docs/: every link resolves inside the repository, and the README stays short.

A clone is all a reader has: a link to a file outside it, or to a heading that was renamed, is
broken for them. The README's test command is the one CI runs, so the two cannot drift.
"""

from __future__ import annotations

import re
from pathlib import Path

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
