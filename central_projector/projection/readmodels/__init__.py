"""SQL read models of the central projection (SQLAlchemy Core; SQLite or PostgreSQL)."""
