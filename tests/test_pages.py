"""`tests._pages.page_text`: word probes see text and attributes, never base64 payloads."""

from __future__ import annotations

import base64

import pytest

from tests._pages import page_text, without_data_payloads

# A PNG signature, padded to 9 bytes, then the 3 bytes that base64 writes as "42zz"
RAW = b"\x89PNG\r\n\x1a\n\x00" + base64.b64decode("42zz") + b"\x00IEND"
B64 = base64.b64encode(RAW).decode("ascii")


def test_the_payload_holds_the_probe() -> None:
    assert "42zz" in B64


@pytest.mark.parametrize("page", [
    f'<p>Map</p><img alt="ward map" src="data:image/png;base64,{B64}">',
    f'<img src="data:image/png;base64,{B64}"/>',
    f'<script src="data:text/javascript;base64,{B64}"></script>',
    f'<link rel="stylesheet" href="data:text/css;charset=utf-8;base64,{B64}">',
    f"<style>.x {{ background: url(data:image/png;base64,{B64}) }}</style>",
    f'<div style="background: url(\'data:image/png;base64,{B64}\')">x</div>',
    f'<script>var icon = "data:image/png;base64,{B64}";</script>',
    f'<iframe srcdoc="<img src=&quot;data:image/png;base64,{B64}&quot;>"></iframe>',
    '<img src="data:image/svg+xml,%3Csvg%3E42zz%3C/svg%3E">',
])
def test_a_payload_holding_the_probe_does_not_trip_it(page: str) -> None:
    assert "42zz" in page  # a probe of the raw page would fail
    assert "42zz" not in page_text(page)


@pytest.mark.parametrize("page", [
    "<p>Ward 42zz</p>",
    '<a href="/wards" title="42zz">wards</a>',
    '<img src="/static/42zz.png">',
    f'<img alt="42zz" src="data:image/png;base64,{B64}">',
    f'<img src="data:image/png;base64,{B64}"><p>42zz</p>',
    '<script>var name = "42zz";</script>',
    '<iframe srcdoc="<p title=&quot;42zz&quot;>x</p>"></iframe>',
    "<p>4&#50;zz</p>",
    "<!-- 42zz -->",
])
def test_a_real_probe_in_text_or_an_attribute_trips_it(page: str) -> None:
    assert "42zz" in page_text(page)


def test_text_is_unescaped_as_a_browser_shows_it() -> None:
    # which is why probes for markup stay on the raw page
    assert page_text("<p>&lt;img src=x&gt;</p>") == "<img src=x>"
    assert page_text("<p><b>bold</b></p>") == "bold"


def test_without_data_payloads_keeps_the_markup_and_the_prefix() -> None:
    page = f'<img src="data:image/png;base64,{B64}"><p>42zz</p>'
    assert without_data_payloads(page) == '<img src="data:image/png;base64,"><p>42zz</p>'
