"""The domain of placerisk: records of places, scoring, action, access and reporting.

Parts, each importing only those above it in this list (tests/test_architecture.py):

- ``errors``, ``dates``: the errors every part raises; the one date parser and range.
- ``store/``: the engine (`store.engine`: open, migrate, upsert), the table definitions
  (`store.schema`), areas, the audit log, backups, scope (need-to-know by authority),
  fingerprints, the import staging, paging, and the Alembic migrations.
- ``records/``: places, concern reports, activities, police.uk incidents and postcodes,
  their parsing and checking (`_parse`), locating (`locate`), the file importer
  (`importer`) and the read queries (`read`).
- ``hotspots/``: the space-time cube and one statistic per module (getis, trend, emerging,
  concentration, explain), the weights, the engine (`engine`, pure), what it reads
  (`inputs`), the run store (`runs`) and the run queries (`read`).
- ``access/`` (accounts, the review and retention register, disclosure rules) and
  ``action/`` (patrol: cells, shift, formats; outcomes: measures, the JAG's table, inputs).
- ``reporting/``: the briefing pack and the exports (frames, their inputs, their files).

The I/O rule: only modules named for it touch the database (import sqlalchemy at run
time): everything in ``store/``, and the modules named ``read``, ``importer``, ``runs``,
``*inputs`` or ``*_store``. Everything else is pure over frames and arrays.
"""
