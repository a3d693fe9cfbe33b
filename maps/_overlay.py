"""Fixed-position HTML boxes over a map (legends, notices, tables): plumbing for maps/."""

from __future__ import annotations

import json

from branca.element import MacroElement, Template

BOX = ("position: fixed; z-index: 1000; background: white; padding: 6px 10px; "
       "border: 1px solid #888; border-radius: 4px; font: 12px/1.4 sans-serif;")


class FixedHtml(MacroElement):
    """HTML placed on the map page as it is: ``body`` must already be escaped."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}")

    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "PlaceriskHtml"
        self.body = body


def script_json(data: object) -> str:
    r"""JSON to write into a folium script, safe from the two ways text escapes it.

    folium renders the page through Jinja once more, so a ``{`` inside a string would let
    ``{{ ... }}`` in imported text run as a template: every ``{`` inside strings becomes
    ``\u007b``. A ``<`` could close the script: it becomes ``\u003c``. Both are plain JSON
    escapes, so the browser reads back the original text.

    Examples
    --------
    >>> script_json({"t": "{{ 6*7 }}</script>"})
    '{"t":"\\u007b\\u007b 6*7 }}\\u003c/script>"}'
    """
    def mark(value: object) -> object:
        if isinstance(value, str):
            return value.replace("{", "\x00")
        if isinstance(value, list | tuple):
            return [mark(v) for v in value]
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        return value

    text = json.dumps(mark(data), separators=(",", ":"))
    return text.replace("\\u0000", "\\u007b").replace("<", "\\u003c")
