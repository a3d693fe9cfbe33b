"""The OpenAPI schema and Swagger UI, for signed-in users only and off in production.

Swagger UI's files come from npm (``make install`` puts swagger-ui-dist 5 in ``vendor/``) or,
failing that, the PyPI package ``swagger-ui-bundle``, and are served by the app, so the page
makes no CDN request.

The schema FastAPI builds knows nothing of `api.auth.authorize` (a dependency of the whole
app) or of the domain errors of ``api.errors.ERROR_STATUS``. `document_access` adds what every
client meets: the bearer token and session cookie as security schemes, on every route the
policy does not make public; 401 and 403 (JSON, or HTML for a browser), or for a page
(`api.policy.Rule.page`) the redirect to the sign-in page and HTML 403, 404 and 422 pages;
404 where a route looks an object or a scoring run up; and error bodies whose ``detail`` is
a message (our own 422s) as well as FastAPI's list of validation errors. schemathesis
fuzzes against this.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.policy import rule_for
from maps import assets

ROUTE = "/static/vendor/swagger-ui"
router = APIRouter(include_in_schema=False)
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A token from POST /api/token."},
    "session": {"type": "apiKey", "in": "cookie", "name": "placerisk_session",
                "description": "The browser session from POST /login."},
}
ERROR = {"title": "Error", "type": "object", "required": ["detail"],
         "properties": {"detail": {"type": "string", "title": "Detail"}}}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_VALIDATION_REF = {"$ref": "#/components/schemas/HTTPValidationError"}
# Query parameters naming a stored object (a run, a patrol's ward): none found is a 404.
LOOKUP_PARAMETERS = {"run_id", "ward"}


def _error(description: str, *, html: bool, json: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ERROR_REF}} if json else {}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": description, "content": content}


SIGN_IN_REDIRECT = {"description": "Not signed in: on to /login?next=<this page>.",
                    "headers": {"Location": {"schema": {"type": "string"}}}}


def _looks_up(path: str, operation: dict[str, Any]) -> bool:
    names = {p.get("name") for p in operation.get("parameters", [])}
    return "{" in path or bool(names & LOOKUP_PARAMETERS)


def _document_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    rule = rule_for(method.upper(), path)
    responses = operation.setdefault("responses", {})
    # a page (api.pages) redirects to the sign-in page and answers every error with a page;
    # another route answers a browser's refusals with a page too
    page = rule is not None and rule.page
    html = page or any("text/html" in r.get("content", {}) for c, r in responses.items()
                       if c.startswith("2"))  # an HTML form's route may answer with a page
    if rule is not None and rule.public:
        operation["security"] = []
    else:
        operation["security"] = [{"bearer": []}, {"session": []}]
        if page:
            responses.setdefault("303", SIGN_IN_REDIRECT)
        else:
            responses.setdefault("401", _error("Not signed in.", html=True))
        responses.setdefault("403", _error("Signed in, but the role may not call this.",
                                           html=True, json=not page))
    if _looks_up(path, operation) or page:
        responses.setdefault("404", _error("No such object or scoring run.", html=html,
                                           json=not page))
    content = responses.get("422", {}).get("content", {})
    if page and content:
        responses["422"]["content"] = {"text/html": {"schema": {"type": "string"}}}
    elif "application/json" in content:
        content["application/json"]["schema"] = {"anyOf": [_VALIDATION_REF, _ERROR_REF]}
        if html:
            content["text/html"] = {"schema": {"type": "string"}}


def document_access(schema: dict[str, Any]) -> dict[str, Any]:
    """Add sign-in, refusals and error bodies to FastAPI's ``schema`` (changed in place).

    Examples
    --------
    >>> schema = {"paths": {"/api/places/{place_id}": {"get": {"responses": {}}},
    ...                     "/healthz": {"get": {"responses": {}}}}}
    >>> paths = document_access(schema)["paths"]
    >>> sorted(paths["/api/places/{place_id}"]["get"]["responses"])
    ['401', '403', '404']
    >>> paths["/healthz"]["get"]["security"]
    []
    """
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("schemas", {})["Error"] = ERROR
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _document_operation(method, path, operation)
    return schema


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI schema with `document_access` applied (built once per app)."""
    schema = getattr(app.state, "openapi_documented", None)
    if schema is None:
        schema = document_access(copy.deepcopy(app.openapi()))
        app.state.openapi_documented = schema
    return schema


def swagger_files() -> StaticFiles | None:
    """Swagger UI's own files, or ``None`` when neither copy is installed.

    Version 5 from ``vendor/`` (npm, via ``make install``) reads the OpenAPI 3.1 that
    FastAPI writes; version 4 from the swagger-ui-bundle package is the fallback.
    """
    vendored = assets.VENDOR_DIR / "swagger-ui"  # as `maps.assets.use_vendor_dir` set it
    if (vendored / "swagger-ui-bundle.js").is_file():
        return StaticFiles(directory=vendored)
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return StaticFiles(directory=swagger_ui_path)


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema of the app."""
    return JSONResponse(openapi_schema(request.app))


@router.get("/docs", response_class=HTMLResponse)
def swagger(request: Request) -> HTMLResponse:
    """Swagger UI over the schema."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="placerisk API documentation",
        swagger_js_url=f"{ROUTE}/swagger-ui-bundle.js",
        swagger_css_url=f"{ROUTE}/swagger-ui.css", swagger_favicon_url="/favicon.ico")
