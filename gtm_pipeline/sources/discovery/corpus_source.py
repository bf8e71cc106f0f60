"""The sample corpus as a discovery source: the offline default, answering like the others.

Each candidate company of the corpus offers its dated pages as hits, the page's title as the quote
(titles carry no dates, so the quote still reads the same on the sample sites `gtm demo` serves,
whose dates move with the clock). The hits name the company's domain, as an imported list does. The
query's words are not matched: the corpus was assembled for the bundled hypothesis already.
"""

from __future__ import annotations

from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.sources.corpus import SampleCorpus

CORPUS_SOURCE = "corpus"


class CorpusSource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over the sample corpus."""

    name = CORPUS_SOURCE
    kinds: frozenset[QueryKind] = frozenset({"search"})
    paid = False

    def __init__(self, corpus: SampleCorpus) -> None:
        self.corpus = corpus

    def cost_usd(self, query: Query) -> float:
        return 0.0

    def search(self, query: Query) -> list[Hit]:
        hits = []
        for candidate in self.corpus.candidates():
            for doc in self.corpus.discovery_documents(candidate):
                hits.append(
                    Hit(
                        source=self.name,
                        query=query.text,
                        url=doc.url,
                        title=doc.title,
                        quote=doc.title,
                        published_on=doc.published_on,
                        company_name=candidate.name,
                        company_domain=candidate.raw_domain,
                    )
                )
        return hits
