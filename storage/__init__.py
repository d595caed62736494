"""SQLAlchemy 2 (async) storage for the core: tables, mapping, repositories, migrations."""
