"""Alembic environment: runs on the connection the store hands over."""

from alembic import context

from layers.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - placerisk always passes its connection
    msg = "run migrations through `placerisk db upgrade`, which supplies the connection"
    raise RuntimeError(msg)

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
