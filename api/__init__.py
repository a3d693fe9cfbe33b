"""The web app and the command line over `layers` and `maps`.

- ``app``: `create_app` only. ``deps``: the store, a connection, paging and shared
  parameters. ``errors``: one table from domain errors to statuses, one error page.
- ``routes/``: one module per resource, each an ``APIRouter`` with its tags (and prefix
  where its paths share one). A route parses the request, calls a service, wraps the answer.
- ``services/``: what a route or a command renders or computes (the map, ward, guardian,
  patrol, plan, briefing and outcome views); no FastAPI import, so the CLI uses them too.
- ``cli/``: the ``placerisk`` command, one module per command group.
- ``auth``, ``policy``, ``security``, ``audit_trail``: sign-in, the deny-by-default access
  table, the security middlewares and the audit of every request. ``settings``: the one
  reader of the environment.
"""
