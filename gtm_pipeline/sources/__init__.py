"""The real world's way in: where prospects and the documents about them come from.

Every source the pipeline reads is a connector here, and every document it keeps is a
:class:`~gtm_pipeline.domain.sources.SourceDoc` with its URL, kind, publication date, retrieval
time and content hash. Today the only connector is the bundled sample corpus (``corpus``, the
offline default); the polite, SSRF-safe fetcher, extraction, company sites, feeds, job boards,
search APIs, news, filings and list imports join it here.
"""
