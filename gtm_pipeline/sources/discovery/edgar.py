"""SEC EDGAR full-text search (keyless): filings whose text matches a query, in a date window.

``GET {base}/LATEST/search-index?q=…&dateRange=custom&startdt=YYYY-MM-DD&enddt=YYYY-MM-DD
&forms=8-K,D`` answers an Elasticsearch page: ``{"hits": {"total": …, "hits": [{"_id":
"<adsh>:<file name>", "_source": {"ciks", "display_names", "file_date", "form", "adsh", "items",
"root_forms", …}}]}}``. The document is ``https://www.sec.gov/Archives/edgar/data/<cik>/<adsh
without dashes>/<file name>``. The SEC asks every client to name itself with a contact email in
its User-Agent (a request without one is refused with 403) and to send 10 requests a second at most.

The quote is the filer's name, the form and its items ("Acme Health Inc, 8-K, Item 5.02"): what
EDGAR itself says of the filing. The kind hint follows the form and the 8-K items, the most telling
item first:

- Form D (an exempt offering) and 8-K item 3.02 (unregistered sales of equity): ``funding``;
- 8-K item 5.02 (departure or appointment of directors and officers): ``leadership_change``;
- 8-K items 1.05 (a material cybersecurity incident), 4.01 (a change of auditor) and 4.02
  (non-reliance on past financial statements): ``regulatory_event``;
- 8-K items 1.01 (a material agreement entered into), 7.01 (Regulation FD) and 8.01 (other
  events): ``public_statement`` (the company announced something material);
- anything else: no hint (the quote's words decide).
"""

from __future__ import annotations

import re

from gtm_pipeline.domain.signals import Hit, Query, QueryKind, SignalKind
from gtm_pipeline.sources.discovery.http import JsonClient, iso_date, malformed, required

EDGAR = "edgar"
EDGAR_URL = "https://efts.sec.gov"
EDGAR_RATE_PER_S = 10.0
ARCHIVES = "https://www.sec.gov/Archives/edgar/data/{cik}/{folder}/{file}"
DEFAULT_FORMS = ("8-K", "D")
ITEM_KINDS: tuple[tuple[str, SignalKind], ...] = (
    ("5.02", "leadership_change"),
    ("3.02", "funding"),
    ("1.05", "regulatory_event"),
    ("4.01", "regulatory_event"),
    ("4.02", "regulatory_event"),
    ("1.01", "public_statement"),
    ("7.01", "public_statement"),
    ("8.01", "public_statement"),
)
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


def filer_name(display_name: str) -> str:
    """``Acme Health Inc  (ACME)  (CIK 0001234567)`` -> ``Acme Health Inc``."""
    return " ".join(_PARENTHESES.sub("", display_name).split())


def kind_of_filing(form: str, items: list[str]) -> SignalKind | None:
    if form.upper() in ("D", "D/A"):
        return "funding"
    for item, kind in ITEM_KINDS:
        if item in items:
            return kind
    return None


class EdgarSource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over EDGAR full-text search."""

    name = EDGAR
    kinds: frozenset[QueryKind] = frozenset({"filings"})
    paid = False

    def __init__(
        self, http: JsonClient, base_url: str = EDGAR_URL, forms: tuple[str, ...] = DEFAULT_FORMS
    ) -> None:
        self.http, self.base_url, self.forms = http, base_url.rstrip("/"), forms

    def cost_usd(self, query: Query) -> float:
        return 0.0

    def search(self, query: Query) -> list[Hit]:
        params: dict[str, str | int] = {
            "q": query.text,
            "dateRange": "custom",
            "startdt": query.since.isoformat(),
            "enddt": query.until.isoformat(),
            "forms": ",".join(self.forms),
        }
        data = self.http.get_json(f"{self.base_url}/LATEST/search-index", params)
        outer = data.get("hits") if isinstance(data, dict) else None
        if not isinstance(outer, dict) or not isinstance(outer.get("hits"), list):
            raise malformed(self.name, "no 'hits.hits' list")
        return [self._hit(query, item) for item in outer["hits"][: query.limit]]

    def _hit(self, query: Query, item: object) -> Hit:
        doc_id = required(self.name, item, "_id")
        source = required(self.name, item, "_source", dict)
        names = required(self.name, source, "display_names", list)
        ciks = required(self.name, source, "ciks", list)
        adsh = required(self.name, source, "adsh")
        form = required(self.name, source, "form")
        items = [str(i) for i in source.get("items") or [] if isinstance(i, str | int | float)]
        _, sep, file_name = doc_id.partition(":")
        if not names or not ciks or not sep or not file_name or not str(ciks[0]).isdigit():
            raise malformed(self.name, f"hit {doc_id!r} lacks a filer, a CIK or a document")
        name = filer_name(str(names[0]))
        url = ARCHIVES.format(cik=int(str(ciks[0])), folder=adsh.replace("-", ""), file=file_name)
        quote = ", ".join([name, form, *(f"Item {i}" for i in items)])
        return Hit(
            source=self.name,
            query=query.text,
            url=url,
            title=f"{name} {form}",
            quote=quote,
            published_on=iso_date(source.get("file_date")),
            company_name=name,
            kind_hint=kind_of_filing(form, items),
        )
