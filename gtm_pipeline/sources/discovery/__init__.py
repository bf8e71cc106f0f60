"""Discovery sources: one interface over search APIs, news, filings, job boards and the corpus."""
