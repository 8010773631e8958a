"""Quarry's storage: the one owner of SQL (schema, migrations, vectors, FTS); no Qt here."""
