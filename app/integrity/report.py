"""The integrity review's findings as CSV or text rows (the CLI and the UI's download)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from app.integrity.rules import Finding
from app.licenses.csv_io import escape_formula
from app.wire.fields import format_wire_datetime

CSV_HEADER = (
    "rule",
    "reason",
    "at",
    "providerCredLicense_Key",
    "providerCred_Key",
    "user",
    "historyRow",
    "detail",
    "history",
)


#: The key ``history_links`` builds the one link with; its digits are then each key's.
_MARKER = 2147483647


def history_links(link: Callable[[int], str]) -> Callable[[int], str]:
    """``link`` for every key from one call of it: its link for a marker key, with each key
    in the marker's place. Flask's ``url_for`` per finding (the URL map's build, the
    ``url_defaults``) was 3 % of a 300,000-finding CSV; the key is the link's last number,
    and a key's text is its digits (the ``int32`` converter quotes nothing else)."""
    head, marker, tail = link(_MARKER).rpartition(str(_MARKER))
    if not marker:  # a link that does not hold its key: build each one
        return link
    return lambda key: f"{head}{key}{tail}"


def write_csv(
    stream: IO[str], findings: Iterable[Finding], history_link: Callable[[int], str]
) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for f in findings:
        writer.writerow(
            (
                f.rule.name,
                f.rule.reason,
                format_wire_datetime(f.at) or "",
                f.license_key,
                "" if f.provider_cred_key is None else f.provider_cred_key,
                escape_formula(f.user or ""),
                "" if f.history_id is None else f.history_id,
                escape_formula(f.detail),
                history_link(f.license_key),
            )
        )


def text_lines(findings: Iterable[Finding], history_link: Callable[[int], str]) -> Iterator[str]:
    """A line per finding, as each is read (the findings of a range may be many)."""
    for f in findings:
        yield (
            f"{format_wire_datetime(f.at) or '-':20}  license {f.license_key}  "
            f"{f.rule.name}: {f.detail}"
            f"{f' (by {f.user})' if f.user else ''}  {history_link(f.license_key)}"
        )
