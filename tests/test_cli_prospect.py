"""``gtm prospect show``: the story of one prospect in the terminal, found by id, domain or email."""

from __future__ import annotations

import json

import pytest

from gtm_pipeline.cli import main
from gtm_pipeline.pipeline.privacy import erase
from gtm_pipeline.pipeline.services import Services
from tests.test_console_timeline import Campaign, run_campaign

REPLY = "Thanks for reaching out - this is timely for us. Happy to set up a call next week."


def _gtm(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    out, err = capsys.readouterr()
    return int(ended.value.code or 0), out, err


@pytest.fixture
def campaign(services: Services) -> Campaign:
    return run_campaign(services)


def test_show_by_domain_id_or_email_tells_the_same_story(
    campaign: Campaign, capsys: pytest.CaptureFixture[str]
) -> None:
    store = campaign.services.store
    prospect = store.prospects.get(campaign.replied)
    assert prospect is not None and prospect.contact_email
    code, by_domain, err = _gtm(capsys, "prospect", "show", prospect.company_domain.upper())
    assert code == 0, err
    assert by_domain.splitlines()[0] == f"{prospect.company_name} ({prospect.company_domain}) {prospect.id}"
    assert REPLY in by_domain and "[quoted history: " in by_domain and "> Hi" not in by_domain
    assert "classified interested by skill classify-reply@" in by_domain
    assert "List-Unsubscribe: <http://" in by_domain and "idempotency key (sha256): " in by_domain
    sent, replied = by_domain.index("Email #1 sent"), by_domain.index("Reply received → now replied")
    assert by_domain.index("Email accepted by the provider → now sent") > sent
    assert sent < by_domain.index(REPLY) < replied
    assert prospect.contact_email not in by_domain and prospect.contact_email not in err

    code, by_id, _ = _gtm(capsys, "prospect", "show", prospect.id)
    assert code == 0 and by_id == by_domain
    code, quoted, _ = _gtm(capsys, "prospect", "show", prospect.id, "--quoted")
    assert code == 0 and "> Hi" in quoted

    code, out, err = _gtm(capsys, "prospect", "show", f"mailto:{prospect.contact_email.upper()}", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["prospect_id"] == prospect.id and shown["state"] == "replied"
    (reply,) = [i for i in shown["items"] if i["kind"] == "email_received"]
    assert reply["detail"]["text"] == REPLY and reply["detail"]["classification"]["by"] == "skill"
    assert prospect.contact_email not in out  # the address was the query; the answer names no one
    moments = [i["at"] for i in shown["items"]]
    assert moments == sorted(moments)


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("nobody-here.example", "no prospect for the domain nobody-here.example"),
        ("p_00000000000000000000", "no prospect p_00000000000000000000"),
        ("someone@nobody-here.example", "no prospect has that address (looked up by its hash e_"),
        ("not a domain", "not a prospect id, a domain or an email address"),
    ],
)
def test_an_unknown_prospect_is_one_line_and_exit_2(
    services: Services, capsys: pytest.CaptureFixture[str], target: str, says: str
) -> None:
    code, out, err = _gtm(capsys, "prospect", "show", target)
    assert code == 2 and out == ""
    assert f"gtm: {says}" in err and "Traceback" not in err
    assert "someone@" not in err  # an address asked about is not echoed back


def test_an_erased_prospect_shows_its_tombstone(
    campaign: Campaign, capsys: pytest.CaptureFixture[str]
) -> None:
    store = campaign.services.store
    erase(
        store,
        campaign.replied,
        reason="retention",
        now=store.now(),
        response_days=campaign.services.settings.privacy.rights_response_days,
        pages=None,
    )
    code, out, err = _gtm(capsys, "prospect", "show", campaign.replied)
    assert code == 0, err
    assert "Personal data erased" in out and "reason: retention" in out
    assert "Reply received (its text was erased): interested" in out  # the decision stays
    assert REPLY not in out
    code, out, _ = _gtm(capsys, "prospect", "show", campaign.replied, "--json")
    assert code == 0 and json.loads(out)["erased_at"] is not None
