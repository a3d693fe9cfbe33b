"""The ``placerisk`` command line: the root group and every command, registered.

Every command takes ``--db PATH`` (a SQLite file, or a ``postgresql://`` URL), before or after
its name; without it the environment variable ``PLACERISK_DB`` is used, then ``placerisk.db``
in the working folder. An explicit ``--db`` always beats the environment
(`api.cli._common.chosen_db`).

The commands live in one module per group: `store` (db upgrade, status), `records`
(boundaries, postcodes, import), `places` (place add, edit, level, close, history),
`scoring` (score), `views` (map), `serve`, `demo`
(demo-data), `exports`, `outcomes`, `briefing`, `patrol` (patrol-plan), `review` (review,
retention), `users` (users, audit) and `backup` (backup, restore); what they share is in
`api.cli._common`.
"""

from __future__ import annotations

import click

from api.cli import (
    backup,
    briefing,
    demo,
    exports,
    outcomes,
    patrol,
    places,
    records,
    review,
    scoring,
    serve,
    store,
    users,
    views,
)
from api.cli._common import DB_HELP


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", default=None, metavar="PATH|URL",
              help="For every command below: " + DB_HELP)
@click.version_option(package_name="placerisk")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Map places where children are at risk of exploitation, for contextual safeguarding.

    \b
    Typical first run with your own data:
      placerisk boundaries load wards.geojson      # ONS ward boundaries, any CRS
      placerisk postcodes load codepoint_ts.csv    # OS Code-Point Open, for postcode-only rows
      placerisk import places places.csv           # then reports, activities, police-uk
      placerisk score                              # hot spots over time
      placerisk serve                              # map on http://127.0.0.1:8000
    """
    ctx.obj = {"db": db}


for _command in (
    store.db, store.status,
    records.boundaries, records.postcodes, records.import_,
    places.place,
    scoring.score,
    demo.demo_data,
    views.map_,
    serve.serve,
    exports.export,
    outcomes.outcomes,
    briefing.briefing,
    patrol.patrol_plan,
    users.users, users.audit_,
    backup.backup_command, backup.restore_command,
    review.review, review.retention,
):
    main.add_command(_command)
