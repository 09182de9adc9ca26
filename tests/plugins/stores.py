"""Fixtures: audit stores (SQLite file, OpenSearch protocol via osmem-server)."""
