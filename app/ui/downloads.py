"""File downloads of the staff UI: written to a spooled temporary file, then streamed, so a
large export never sits whole in memory and the page's query ends before the body is sent."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from werkzeug.wrappers import Response

SPOOL_BYTES = 1 << 20
CHUNK_CHARS = 1 << 16


def csv_download(write: Callable[[IO[str]], object], filename: str) -> Response:
    """A ``text/csv`` attachment named ``filename`` (names made of ASCII letters, digits and
    ``-_.`` only, so it needs no quoting), with what ``write`` writes to the file it is given."""
    spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by the body's generator)
        max_size=SPOOL_BYTES, mode="w+", encoding="utf-8", newline=""
    )
    try:
        write(spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def body() -> Iterator[str]:
        with spool:
            while chunk := spool.read(CHUNK_CHARS):
                yield chunk

    download = Response(body(), mimetype="text/csv")
    download.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return download
