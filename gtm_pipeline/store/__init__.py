"""The system of record: SQLAlchemy Core over SQLite (WAL) by default, Postgres at scale.

``Store`` is the unit of work; its repositories (``store.prospects``, ``store.journal``, …) each
hold one concern's SQL (see :mod:`gtm_pipeline.store.unit`).
"""

from gtm_pipeline.store.records import ArtifactRecord, JournalRecord, NewProspect, ProspectRecord, ReviewItem
from gtm_pipeline.store.unit import Store

__all__ = ["ArtifactRecord", "JournalRecord", "NewProspect", "ProspectRecord", "ReviewItem", "Store"]
