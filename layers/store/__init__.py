"""The store: engine and tables, areas, audit log, backups, scope, the import staging."""
