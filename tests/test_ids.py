from __future__ import annotations

import pytest

from gtm_pipeline.domain.ids import (
    InvalidIdentityError,
    email_hash,
    is_prospect_id,
    normalize_domain,
    normalize_email,
    prospect_id,
)


@pytest.mark.parametrize(
    "spelling",
    [
        "medibridge-health.example",
        "https://WWW.MediBridge-Health.example/",
        "http://medibridge-health.example:8080/about?x=1",
        "  MEDIBRIDGE-HEALTH.EXAMPLE.  ",
        "priya@medibridge-health.example",
    ],
)
def test_every_spelling_of_a_domain_normalizes_to_one_host(spelling: str) -> None:
    assert normalize_domain(spelling) == "medibridge-health.example"


def test_prospect_id_is_stable_opaque_and_the_same_for_every_spelling() -> None:
    first = prospect_id("medibridge-health.example")
    assert first == prospect_id("https://www.MediBridge-Health.example/news")
    assert is_prospect_id(first)
    assert "medibridge" not in first
    assert first != prospect_id("carepoint-clinics.example")
    # stable across runs and processes: the hash is of the normalized identity only
    assert (
        first
        == "p_" + __import__("hashlib").sha256(b"gtm:prospect:v1:medibridge-health.example").hexdigest()[:20]
    )


def test_internationalized_domains_are_idna_encoded() -> None:
    assert normalize_domain("bücher.example") == "xn--bcher-kva.example"


@pytest.mark.parametrize("bad", ["", "   ", "localhost", "not a domain", "-bad-.example", "a..example"])
def test_bad_domains_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentityError):
        normalize_domain(bad)


def test_email_normalization_folds_case_and_subaddress() -> None:
    assert (
        normalize_email(" <Priya.Raman+news@MediBridge-Health.example> ")
        == "priya.raman@medibridge-health.example"
    )
    assert email_hash("Priya.Raman@medibridge-health.example") == email_hash(
        "priya.raman+x@medibridge-health.example"
    )
    assert "priya" not in email_hash("priya.raman@medibridge-health.example")


@pytest.mark.parametrize("bad", ["no-at-sign", "@example.com", "user@", "+tag@example.com"])
def test_bad_emails_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentityError):
        normalize_email(bad)
