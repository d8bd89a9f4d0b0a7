"""The message store: database engine, tables, blob store and full-text search."""
