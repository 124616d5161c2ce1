"""API tokens: a verified token is remembered until its expiry, never past it."""

from __future__ import annotations

import time

import pytest

from app.auth import tokens
from app.auth.tokens import InvalidToken, TokenClaims, mint_token, verify_token

SECRET = "a-secret-of-at-least-thirty-two-characters"


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    tokens._VERIFIED.clear()


def test_a_remembered_token_still_expires() -> None:
    token = mint_token(SECRET, "alice", "main", 2, "id")
    assert verify_token(SECRET, token, "main") == TokenClaims("alice", "main")
    entry = tokens._VERIFIED._entries[(SECRET, token, "main")]  # remembered, with its exp
    time.sleep(max(0.0, entry[1] - time.time()) + 0.01)
    assert tokens._VERIFIED.get(SECRET, token, "main") is None
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token, "main")


def test_a_remembered_token_is_only_good_for_its_database_and_secret() -> None:
    token = mint_token(SECRET, "alice", "main", 60, "id")
    verify_token(SECRET, token, "main")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token, "other")
    with pytest.raises(InvalidToken):
        verify_token("another-secret-of-thirty-two-characters!", token, "main")


def test_refused_tokens_are_not_remembered() -> None:
    for bad in ("nonsense", mint_token("x" * 32, "alice", "main", 60, "id")):
        with pytest.raises(InvalidToken):
            verify_token(SECRET, bad, "main")
    assert tokens._VERIFIED._entries == {}


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    small = tokens._VerifiedTokens(size=3)
    monkeypatch.setattr(tokens, "_VERIFIED", small)
    minted = [mint_token(SECRET, f"user{i}", "main", 60, "id") for i in range(5)]
    for token in minted:
        verify_token(SECRET, token, "main")
    assert len(small._entries) == 3
    assert small.get(SECRET, minted[0], "main") is None
    assert small.get(SECRET, minted[-1], "main") == TokenClaims("user4", "main")


def test_refresh_checks_of_expired_tokens_bypass_the_memory() -> None:
    expired = mint_token(SECRET, "alice", "main", -10, "id")
    assert verify_token(SECRET, expired, "main", verify_exp=False).username == "alice"
    with pytest.raises(InvalidToken):
        verify_token(SECRET, expired, "main")
