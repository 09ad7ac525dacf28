"""The project store: SQLite schema and migrations, and content-addressed files."""
