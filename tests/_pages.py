"""What a page says, for probes that must not match base64 by chance.

A page may embed images, scripts and style sheets as ``data:`` URIs (the briefing pack's PNG
maps, a standalone map's Leaflet). Base64 of an image holds any short run of letters and
digits sooner or later: a megabyte of it holds "42zz" with a chance of 1 in 17 and "cdn", in
some case, about 30 times. So a probe for a word ("42zz", "onerror", a note, a name, "cdn")
is checked against `page_text`: the page's text and attribute values, with every data: URI
payload removed.

A probe for markup ("<script", "<img src=x", "&lt;img", "{{") stays on the raw HTML: parsing
would turn injected markup into tags and escaped text back into markup, and base64 cannot
hold it (``< > & ; {`` and spaces are not in its alphabet). `without_data_payloads` removes
the payloads from raw HTML for scans of URLs and markup that must also skip them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# data:[<media type>][;name=value]*;base64,<payload>: the prefix is kept, the payload goes
BASE64_URI = re.compile(
    r"(data:[\w.+-]*/?[\w.+-]*(?:;[\w.+-]+=[\w.+-]+)*;base64,)[A-Za-z0-9+/]+=*",
    re.IGNORECASE)


def without_data_payloads(text: str) -> str:
    """``text`` with the payload of every base64 data: URI in it removed (the prefix kept)."""
    return BASE64_URI.sub(r"\1", text)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []

    def handle_data(self, data: str) -> None:  # text, and script and style contents as is
        self.pieces.append(data)

    def handle_comment(self, data: str) -> None:  # not shown, but sent: a leak all the same
        self.pieces.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "srcdoc":  # a whole page in an attribute: its text and attributes
                value = page_text(value)
            elif value.lstrip().lower().startswith("data:"):  # any data: URI, base64 or not
                value = value.split(",", 1)[0] + ","
            self.pieces.append(value)

    handle_startendtag = handle_starttag


def page_text(html: str) -> str:
    """The text and attribute values of ``html``, one per line, without data: URI payloads.

    Text is unescaped as a browser shows it (``&lt;b&gt;`` becomes ``<b>``); script and style
    contents and comments are kept as written; tag and attribute names are left out.

    Examples
    --------
    >>> page_text('<p title="a &amp; b">x<img src="data:image/png;base64,QUJD42zz"></p>')
    'a & b\\nx\\ndata:image/png;base64,'
    """
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return "\n".join(without_data_payloads(piece) for piece in collector.pieces)
