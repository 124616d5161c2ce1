"""The license type ``<option>`` list of a grid row, escaped once per page instead of once per
row: a page of fifty rows with twenty types rendered a thousand options through the template
(about a fifth of the page's time)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from app.ui.grid_data import TypeChoice

BLANK = Markup('<option value="">—</option>')
OPTION = '<option value="{key}"{title}{selected}>{label}</option>'
NOT_LISTED = Markup('<option value="{0}" selected title="Not in the list">{0}</option>')


class TypeOptions:
    """``options(value)``: the options with ``value``'s selected; a value that is not a listed
    type is kept as an extra, selected option (so a Save sends it back unchanged)."""

    def __init__(self, types: Sequence[TypeChoice]) -> None:
        self._options: list[tuple[str, Markup, Markup]] = []
        for choice in types:
            title = Markup(' title="{}"').format(choice.description) if choice.description else ""
            fields = {"key": choice.key, "title": title, "label": choice.label}
            self._options.append(
                (
                    str(choice.key),
                    Markup(OPTION).format(selected="", **fields),
                    Markup(OPTION).format(selected=Markup(" selected"), **fields),
                )
            )

    def __call__(self, value: str) -> Markup:
        parts = [BLANK]
        found = value == ""
        for key, plain, selected in self._options:
            if key == value:
                parts.append(selected)
                found = True
            else:
                parts.append(plain)
        if not found:
            parts.append(NOT_LISTED.format(value))
        return Markup("").join(parts)
