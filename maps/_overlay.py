"""Fixed-position HTML boxes over a map (legends, notices, tables): plumbing for maps/."""

from __future__ import annotations

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
