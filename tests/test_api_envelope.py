"""The envelope, activity ids and error shapes on API paths (never HTML, never a traceback)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask

from app.api.envelope import dump_json
from tests.helpers import BATCH_URL


def assert_envelope_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"data", "error", "debug"}
    assert body["data"] is None
    assert body["error"]["status"] == status
    assert set(body["error"]) >= {"type", "title", "status", "detail", "instance"}
    assert body["debug"]["activityID"] == response.headers["X-Activity-ID"]
    return body["error"]


@pytest.mark.parametrize(
    "path",
    # Paths that merely begin with the UI's or the static files' prefix are not theirs: they
    # were answered with the UI's HTML 404 page.
    ["/nope", "/vbasoftware/nope", "/provider-credentialing/x", "/uid", "/ui-api", "/statics"],
)
def test_unknown_api_path_is_json_404(client: Any, path: str) -> None:
    error = assert_envelope_error(client.get(path), 404)
    assert error["title"] == "Not Found"
    assert error["detail"] == UNROUTED
    assert error["instance"] == path


UNROUTED = (
    "No route of this API has this path (a key in a path is an int32); the routes are listed "
    "in /openapi.json."
)


@pytest.mark.parametrize("path", ["/provider-credentialing/1/nope/", "/nope//", "/vbasoftware/"])
def test_a_trailing_slash_on_no_route_is_the_unknown_path_404(client: Any, path: str) -> None:
    assert assert_envelope_error(client.get(path), 404)["detail"] == UNROUTED


def test_wrong_method_is_json_405(client: Any) -> None:
    response = client.delete(BATCH_URL.format(cred=1))
    error = assert_envelope_error(response, 405)
    assert error["detail"] == "Method DELETE is not allowed here."
    assert "PUT" in response.headers["Allow"]


def test_unexpected_exception_is_json_500_without_traceback(app: Flask) -> None:
    @app.get("/explode")
    def explode() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/explode")
    error = assert_envelope_error(response, 500)
    assert error["detail"] == f"Internal error (activity {response.headers['X-Activity-ID']})"
    assert "secret internals" not in response.get_data(as_text=True)


def test_every_response_has_a_fresh_activity_id(client: Any) -> None:
    first = client.get("/healthz").headers["X-Activity-ID"]
    second = client.get("/healthz").headers["X-Activity-ID"]
    assert first != second and len(first) == 36


def test_one_log_line_per_request(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("credgrid.access")
    logger.addHandler(caplog.handler)
    try:
        response = client.get("/nope")
    finally:
        logger.removeHandler(caplog.handler)
    lines = [r.getMessage() for r in caplog.records if r.name == "credgrid.access"]
    assert len(lines) == 1
    activity = response.headers["X-Activity-ID"]
    assert lines[0].startswith(f"activity={activity} method=GET path=/nope status=404 ")
    assert "duration_ms=" in lines[0]


def test_a_path_cannot_forge_a_log_line(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A percent-encoded line break in the path reached the log decoded: anyone, without a
    key, could append a made-up line (a DELETE answered 204, under any activity id)."""
    forged = "activity=forged method=DELETE path=/provider-credentialing/1/licenses/5 status=204"
    logger = logging.getLogger("credgrid.access")
    logger.addHandler(caplog.handler)
    try:
        client.get("/nope%0D%0A" + forged.replace(" ", "%20") + "/caf%C3%A9")
    finally:
        logger.removeHandler(caplog.handler)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "credgrid.access"]
    assert "\n" not in line and "\r" not in line
    assert (
        " path=/nope%0D%0Aactivity=forged%20method=DELETE%20path=/provider-credentialing/" in line
    )
    assert "/caf%C3%A9 status=404 " in line


@pytest.mark.parametrize(
    "document",
    [
        {"data": [{"id": [{"key": "k", "value": "7"}], "status": 201}], "error": None},
        {"text": 'é "quoted" \\ back\u2028slash\ttab\x00nul', "list": [True, False, None, -1]},
        {"big": 2**70},  # beyond 64 bits: json.dumps writes it
        {1: "not a string key"},
    ],
)
def test_dump_json_writes_what_json_dumps_writes(document: Any) -> None:
    written = dump_json(document)
    assert written.decode() == json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "document", [{"surrogate": "x\ud800", "é": "ü"}, {"x\udfff": ["lone", "surrogate"], "n": 2**70}]
)
def test_dump_json_writes_a_lone_surrogate_as_an_escape(document: Any) -> None:
    """A lone surrogate has no UTF-8 form: the answer escapes it (and every non-ASCII
    character), still valid UTF-8 and the same document."""
    written = dump_json(document)
    assert b"\\ud" in written or b"\\udfff" in written
    assert json.loads(written.decode("utf-8")) == document


def test_dump_json_refuses_what_json_dumps_refuses() -> None:
    import datetime

    with pytest.raises(TypeError):
        dump_json({"at": datetime.datetime(2024, 1, 1)})


def test_options_on_an_api_route_is_204_with_allow(client: Any) -> None:
    """Flask's automatic answer was an empty 200 of type text/html."""
    for url in ("/provider-credentialing/1/licenses-batch", "/vbasoftware/licenses/expirables"):
        response = client.options(url)
        assert response.status_code == 204
        assert "Content-Type" not in response.headers and response.get_data() == b""
        assert "X-Activity-ID" in response.headers
    assert "PUT" in client.options("/provider-credentialing/1/licenses-batch").headers["Allow"]
