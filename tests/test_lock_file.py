"""requirements.lock pins, with hashes, every runtime dependency pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, list[str]]:
    """name → the hash lines of its pin."""
    pins: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==\S+", line):
            current = canonical(match.group(1))
            pins[current] = []
        elif current and "--hash=sha256:" in line:
            pins[current].append(line)
    return pins


def test_every_dependency_is_pinned_with_hashes() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = locked()
    missing = [d for d in declared if canonical(Requirement(d).name) not in pins]
    assert not missing, f"run scripts/lock-dependencies: {missing} not in requirements.lock"
    for requirement in map(Requirement, declared):
        version = next(
            line.split("==")[1].split()[0]
            for line in (ROOT / "requirements.lock").read_text().splitlines()
            if canonical(line.split("==")[0]) == canonical(requirement.name) and "==" in line
        )
        assert requirement.specifier.contains(version), (requirement, version)
    assert all(pins.values()), [name for name, hashes in pins.items() if not hashes]
