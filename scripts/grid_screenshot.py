#!/usr/bin/env python3
"""Regenerate docs/grid.png: the license grid after one Save, as the README's alt text says (an
updated row, a created row, a deleted row and a row whose state is not a USPS code, kept as
typed with the error under the cell).

Run from anywhere, with the test extra installed and Debian's Chromium at /usr/bin/chromium:

    .venv/bin/python scripts/grid_screenshot.py

It creates the Quickstart's demo database (`flask --app app demo`, database `demo`) in a
temporary instance folder, serves it on a free local port, logs in as the demo user, makes
that Save in the grid of PRV01013 (credential 1013) and writes the window, 1280 × 900 px, to
docs/grid.png. Nothing else is touched; the temporary folder (database, secret key) is removed.
Look at the image before committing it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "grid.png"
CHROMIUM = "/usr/bin/chromium"
CRED = 1013  # three licenses: one left as it is, one renewed, one deleted
VIEWPORT = {"width": 1280, "height": 900}


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "app", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if server.poll() is not None:
            sys.exit(f"the server stopped (exit {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the server did not answer at {url}")


def mdy(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def make_the_save(page: Any, today: date) -> None:
    """One Save: renew the second license, delete the third, add a license, and add one whose
    state is not a USPS code (so the page is not reloaded and shows every row's result)."""
    keys = page.locator("tr.grid-row[data-license-key]").evaluate_all(
        "rows => rows.map(row => row.dataset.licenseKey)"
    )
    renewed, deleted = keys[1], keys[2]
    in_two_years = today + timedelta(days=730)
    page.get_by_label(f"Term, license {renewed}").fill(mdy(in_two_years))
    page.get_by_label(f"PSV, license {renewed}").fill(mdy(today))
    page.get_by_label(f"Delete license {deleted}").check()
    rows = [
        ("MD", "Medical Doctor (state medical license)", "MD-NV-778812", "NV", "FM"),
        ("DEA", "DEA controlled-substance registration", "DEA-XX-1", "XX", "FM"),
    ]
    blank = page.locator("label", has_text=re.compile(r"^Type, new row \d+$"))
    for index, (kind, name, license_number, state, specialty) in enumerate(rows):
        # "new row 5": a blank row is named by its place in the grid
        row = (blank.nth(index).text_content() or "").strip().removeprefix("Type, ")
        page.get_by_label(f"Type, {row}").select_option(label=kind)
        page.get_by_label(f"License name, {row}").fill(name)
        page.get_by_label(f"Number, {row}").fill(license_number)
        page.get_by_label(f"State, {row}").fill(state)
        page.get_by_label(f"Specialty, {row}").fill(specialty)
        page.get_by_label(f"Effective, {row}").fill(mdy(today - timedelta(days=30)))
        page.get_by_label(f"Term, {row}").fill(mdy(in_two_years))
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("#save-summary")


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="credgrid-screenshot-") as instance:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        env["CREDGRID_INSTANCE_PATH"] = instance
        demo = subprocess.run(
            flask("demo"), cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        found = re.search(r"password '([^']+)', database 'demo'", demo.stdout)
        if not found:
            sys.exit("`flask --app app demo` did not print the demo user's password")
        port = free_port()
        server = subprocess.Popen(
            flask("run", "--port", str(port)),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base}/healthz", server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
                )
                context = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US")
                context.set_default_timeout(10_000)
                page = context.new_page()
                page.goto("/ui/login")
                page.get_by_label("Username").fill("demo")
                page.get_by_label("Password").fill(found.group(1))
                page.get_by_label("Database").select_option("demo")
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url("**/ui/credentials")
                page.goto(f"/ui/credentials/{CRED}/licenses")
                make_the_save(page, datetime.now(UTC).date())  # the grid's dates are UTC
                page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
                page.screenshot(path=str(OUTPUT))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"{OUTPUT.relative_to(ROOT)} written ({OUTPUT.stat().st_size // 1024} KB); look at it.")


if __name__ == "__main__":
    main()
