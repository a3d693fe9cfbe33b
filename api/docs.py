"""The OpenAPI schema and Swagger UI, for signed-in users only and off in production.

Swagger UI's files come from the PyPI package ``swagger-ui-bundle`` and are served by the
app, so the page makes no CDN request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

ROUTE = "/static/vendor/swagger-ui"
router = APIRouter(include_in_schema=False)


def swagger_files() -> StaticFiles | None:
    """Swagger UI's own files, or ``None`` when swagger-ui-bundle is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return StaticFiles(directory=swagger_ui_path)


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema of the app."""
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


@router.get("/docs", response_class=HTMLResponse)
def swagger(request: Request) -> HTMLResponse:
    """Swagger UI over the schema."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="placerisk API",
        swagger_js_url=f"{ROUTE}/swagger-ui-bundle.js",
        swagger_css_url=f"{ROUTE}/swagger-ui.css", swagger_favicon_url="/favicon.ico")
