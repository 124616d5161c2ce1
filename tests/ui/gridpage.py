"""Reading the staff UI's pages as a browser would: form values, and the text a person reads."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from typing import Any


class FormReader(HTMLParser):
    """The controls of one ``<form>`` with the values a browser would send."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self.checkboxes: dict[str, str] = {}
        self.order: list[str] = []
        self._select: str | None = None
        self._first_option: str | None = None
        self._selected: str | None = None
        self._option_value: str | None = None
        self._option_text = ""
        self._option_selected = False
        self._in_option = False
        self._template_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "template":
            self._template_depth += 1
        if self._template_depth:
            return
        if tag == "input" and "name" in a:
            if a.get("type") in ("checkbox", "radio"):
                self.checkboxes[a["name"]] = a.get("value", "on")
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "on")
            else:
                self.fields[a["name"]] = a.get("value", "")
            self.order.append(a["name"])
        elif tag == "select":
            self._select, self._first_option, self._selected = a["name"], None, None
        elif tag == "option" and self._select:
            self._in_option, self._option_text = True, ""
            self._option_value = a.get("value")
            self._option_selected = "selected" in a

    def handle_data(self, data: str) -> None:
        if self._in_option:
            self._option_text += data

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "template":
            self._template_depth -= 1
        elif tag == "form" and not self._template_depth:
            self.inside = False
        elif tag == "option" and self._in_option:
            value = self._option_value if self._option_value is not None else self._option_text
            if self._first_option is None:
                self._first_option = value
            if self._option_selected:
                self._selected = value
            self._in_option = False
        elif tag == "select" and self._select:
            self.fields[self._select] = (
                self._selected if self._selected is not None else self._first_option or ""
            )
            self.order.append(self._select)
            self._select = None


class GridPage:
    """The license grid as served: its rows, and a Save with whatever was changed."""

    def __init__(self, client: Any, provider_cred_key: int, html: str) -> None:
        self.client = client
        self.provider_cred_key = provider_cred_key
        self.html = html
        reader = FormReader("grid-form")
        reader.feed(html)
        self.fields = reader.fields
        self.checkboxes = reader.checkboxes

    @property
    def prefixes(self) -> list[str]:
        return [name[: -len("-version")] for name in self.fields if name.endswith("-version")]

    def row(self, license_key: int) -> str:
        for prefix in self.prefixes:
            if self.fields[f"{prefix}-providerCredLicense_Key"] == str(license_key):
                return prefix
        raise LookupError(license_key)

    def blank_rows(self) -> list[str]:
        return [p for p in self.prefixes if not self.fields[f"{p}-version"]]

    def set(self, prefix: str, **cells: str) -> GridPage:
        for name, value in cells.items():
            self.fields[f"{prefix}-{name}"] = value
        return self

    def tick(self, prefix: str, box: str) -> GridPage:
        self.fields[f"{prefix}-{box}"] = self.checkboxes[f"{prefix}-{box}"]
        return self

    def save(self, **kwargs: Any) -> Any:
        """Post the form; like a browser, follow the redirect a fully successful Save answers."""
        kwargs.setdefault("follow_redirects", True)
        return self.client.post(
            f"/ui/credentials/{self.provider_cred_key}/licenses", data=self.fields, **kwargs
        )


def as_browser_loaded(page: GridPage) -> GridPage:
    """The form as a browser holds it: an ``<input type=text>`` strips CR and LF."""
    for name, value in page.fields.items():
        if not name.endswith(("-loaded", "-version", "-conflicts")):
            page.fields[name] = value.replace("\r", "").replace("\n", "")
    return page


def text_of(html: str) -> str:
    """The page's text, tags stripped and white space collapsed (for 'what a person reads')."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def title_of(response: Any) -> str:
    """The page's ``<title>`` as read out: entities decoded, white space collapsed."""
    found = re.search(r"<title>(.*?)</title>", response.get_data(as_text=True), re.S)
    assert found, "no <title>"
    return unescape(" ".join(found.group(1).split()))
