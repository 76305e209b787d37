"""Persistence: engine, sessions, the declarative base and Alembic migrations."""
