"""``placerisk serve``: the map and the JSON/GeoJSON API over HTTP.

The only command module that imports the app (FastAPI, uvicorn), and only inside the
command: every other command writes its files without them.
"""

from __future__ import annotations

import click

from api.cli._common import DB_HELP, chosen_db, fail, map_settings
from layers.store.engine import StoreError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.option("--db", "db", default=None, metavar="PATH|URL", help=DB_HELP)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, db: str | None) -> None:
    """Serve the map and the JSON/GeoJSON API (OpenAPI at /docs)."""
    import uvicorn

    from api.app import create_app
    from api.settings import SettingsError

    try:
        settings = map_settings(chosen_db(ctx, db)[0])
    except SettingsError as exc:
        fail(str(exc))
    try:
        app = create_app(settings)
    except StoreError as exc:
        fail(f"{exc}. Check --db or PLACERISK_DB")
    click.secho(f"placerisk: serving on http://{host}:{port}/  (API docs: /docs)", fg="green")
    # Proxy headers only from PLACERISK_TRUSTED_PROXIES: uvicorn would believe any
    # X-Forwarded-For from 127.0.0.1 otherwise, and the audit log record a forged address.
    uvicorn.run(app, host=host, port=port, log_level="warning",
                proxy_headers=settings.proxy_headers,
                forwarded_allow_ips=settings.forwarded_allow_ips or None)
