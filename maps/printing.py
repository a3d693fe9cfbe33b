"""Printing self-contained pages to PDF (patrol plans, the JAG briefing pack)."""

from __future__ import annotations


def html_to_pdf(page: str) -> bytes:
    """Print a self-contained page to PDF with WeasyPrint, fetching ``data:`` URLs only."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    pdf: bytes = HTML(string=page, url_fetcher=fetcher).write_pdf()
    return pdf
