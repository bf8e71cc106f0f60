"""The system of record: SQLAlchemy Core over SQLite (WAL) by default, Postgres at scale."""

from gtm_pipeline.store.repository import Store

__all__ = ["Store"]
