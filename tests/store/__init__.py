"""The store on real databases, one module per store module: every portable test runs on a
SQLite file and on a real PostgreSQL server (tests/conftest.py's `open_store`); the rest
are one dialect's own."""
