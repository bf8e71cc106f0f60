"""Which charset a page is read with, and the record of what decided it.

Over the web twin for the cases a server causes (a lying header, a byte order mark, a page that
declares its charset only in ``<meta>``); directly on the decoder for the rest of the order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.sources.addresses import AddressPolicy
from gtm_pipeline.sources.fetcher import FetchConfig, Fetcher, _decode
from gtm_pipeline.twins.web import WebTwin
from tests.conftest import TEST_START

SITES = Path(__file__).parent / "fixtures" / "web"


@pytest.fixture
def fetcher(tmp_path: Path) -> Iterator[Fetcher]:
    with WebTwin(SITES) as twin:
        config = FetchConfig(contact="ops@northwind-advisory.example", pause_s=0.01)
        policy = AddressPolicy.from_settings([twin.address], twin.connect_to())
        with Fetcher(config, policy, ManualClock(TEST_START), state_dir=tmp_path / "fetch") as f:
            yield f


@pytest.mark.parametrize(
    ("path", "words", "charset", "source"),
    [
        (
            "/utf8-under-latin1",  # a UTF-8 page behind an old "charset=iso-8859-1" server default
            "Nous livrons les hôpitaux de Genève depuis 2014 — déjà quarante cliniques.",
            "utf-8",
            "valid utf-8 (header said iso-8859-1, read as cp1252)",
        ),
        (
            "/utf16-bom",  # UTF-16 with its byte order mark, behind "charset=utf-8"
            "Spitäler in Zürich und Genève: 40 Kliniken.",
            "utf-16-le",
            "byte order mark",
        ),
        (
            "/meta-only",  # no header charset; <meta charset="iso-8859-15"> (€, œ differ from cp1252)
            "Le cœur du service : 40 € par mois, hôpitaux compris.",
            "iso8859-15",
            "meta",
        ),
    ],
)
def test_a_page_is_read_with_the_charset_that_decodes_it_and_says_what_decided(
    fetcher: Fetcher, path: str, words: str, charset: str, source: str
) -> None:
    page = fetcher.get(f"https://tricky.example{path}")
    assert words in page.text
    assert not page.text.startswith("\ufeff")
    assert (page.charset, page.charset_source) == (charset, source)
    assert page.provenance()["charset"] == charset


FRENCH = "<p>Nous livrons les hôpitaux de Genève — déjà quarante cliniques.</p>"


def test_a_declared_charset_that_decodes_wins() -> None:
    decoded = _decode(FRENCH.encode("cp1252"), "windows-1252")
    assert (decoded.text, decoded.charset, decoded.source) == (FRENCH, "cp1252", "header")


def test_plain_ascii_under_latin1_is_read_as_the_header_says_windows_1252() -> None:
    # WHATWG: iso-8859-1 is windows-1252; with nothing but ASCII there is no UTF-8 evidence to weigh
    decoded = _decode(b"<p>plain words</p>", "iso-8859-1")
    assert (decoded.text, decoded.charset, decoded.source) == ("<p>plain words</p>", "cp1252", "header")


def test_an_http_equiv_declaration_is_read_when_the_header_has_none() -> None:
    page = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15"><p>hôpitaux : 40 €</p>'
    decoded = _decode(page.encode("iso-8859-15"), None)
    assert decoded.text == page
    assert (decoded.charset, decoded.source) == ("iso8859-15", "meta")


def test_a_lying_header_gives_way_to_a_meta_that_decodes() -> None:
    page = '<meta charset="windows-1252">' + FRENCH
    decoded = _decode(page.encode("cp1252"), "utf-8")
    assert decoded.text == page
    assert (decoded.charset, decoded.source) == ("cp1252", "meta")


def test_an_unknown_label_is_recorded_and_the_bytes_decide() -> None:
    decoded = _decode(FRENCH.encode(), "x-made-up")
    assert decoded.text == FRENCH
    assert (decoded.charset, decoded.source) == (
        "utf-8",
        "valid utf-8 (header said x-made-up, an unknown charset)",
    )


def test_a_meta_that_says_utf_16_in_ascii_markup_means_utf_8() -> None:
    page = '<meta charset="utf-16">' + FRENCH
    decoded = _decode(page.encode(), None)
    assert (decoded.text, decoded.charset) == (page, "utf-8")


def test_an_undeclared_cyrillic_page_is_not_forced_into_windows_1252() -> None:
    # windows-1252 "decodes" these bytes too (as "Ïðèâåò"): the detector must rule it out
    page = "<p>Привет! Компания поставляет оборудование для больниц в Москве и Санкт-Петербурге.</p>"
    decoded = _decode(page.encode("cp1251"), None)
    assert decoded.text == page
    assert (decoded.charset, decoded.source) == ("cp1251", "detected by charset-normalizer")
