"""Downloads for GIS users: ``/api/export/{what}.{fmt}`` as GeoJSON, CSV or GeoPackage.

Include ``router`` in the app (``app.include_router(router)``) after `api.app` has been
imported: the route reads through `api.app`'s dependencies, and unknown runs become 404 and
bad arguments 422 through its ``ERROR_STATUS`` table.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from api.audit_trail import returned
from api.auth import UserScope
from api.deps import Conn, RunId
from layers.reporting import export_files as export_io
from layers.reporting import export_inputs, exports

router = APIRouter(tags=["exports"])

_MEDIA_TYPES: dict[str, Any] = {f.media_type: {} for f in export_io.FORMATS.values()}
What = Annotated[str, Path(description="cells, places, reports, activities or wards.")]
Fmt = Annotated[str, Path(description="geojson, csv or gpkg.")]
Purpose = Annotated[str, Query(min_length=5, max_length=200,
                               description="Why you need this export (to the audit log).")]


@router.get(
    "/api/export/{what}.{fmt}", response_class=Response,
    responses={200: {"content": _MEDIA_TYPES, "description": "The file, as an attachment."},
               404: {"description": "Unknown export or format, or no scoring run yet."}},
)
def export_file(request: Request, conn: Conn, what: What, fmt: Fmt, scope: UserScope,
                purpose: Purpose, run_id: RunId = None) -> Response:
    """Download cells, places (no notes), reports, activities or wards: GeoJSON, CSV or GPKG."""
    try:
        exports.check_export(what)
        export_io.check_format(fmt)
    except exports.UnknownExportError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    frame = export_inputs.load_export(conn, what, run_id=run_id, scope=scope)
    returned(request, {what: len(frame)})
    content, media_type, filename = export_io.export_bytes(frame, fmt, what)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"',
               "Cache-Control": "no-store"}
    return Response(content, media_type=media_type, headers=headers)
