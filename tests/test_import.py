"""``gtm import``: the exports people have, read, mapped, merged and registered in one transaction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.states import State
from gtm_pipeline.imports.mapping import MappingError
from gtm_pipeline.imports.table import TableError
from gtm_pipeline.pipeline.conflicts import load_accounts
from gtm_pipeline.pipeline.importing import ImportReport, apply_plan, read_plan
from gtm_pipeline.pipeline.privacy import erase, export
from gtm_pipeline.pipeline.services import Services
from tests.conftest import HYPOTHESIS, STARTER, TEST_START

LISTS = Path(__file__).parent / "fixtures" / "imports"


def do_import(
    services: Services, name: str | Path, *, dry_run: bool = False, overrides: list[str] | None = None
) -> ImportReport:
    path = name if isinstance(name, Path) else LISTS / name
    plan = read_plan(path, overrides or [])
    return apply_plan(
        services.store,
        plan,
        services.hypotheses[HYPOTHESIS],
        services.accounts,
        actor="operator:test",
        dry_run=dry_run,
    )


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        (
            "apollo-people.csv",
            "utf-8-sig, comma-separated, header on line 1",
            {
                "Website": "domain",
                "Email": "email",
                "Company": "company",
                "Title": "title",
                "Email Status": "email_status",
            },
        ),
        (
            "apollo-accounts.csv",
            "utf-8-sig, comma-separated, header on line 1",
            {"Company Name": "company", "Website": "domain"},
        ),
        (
            "Connections.csv",
            "utf-8-sig, comma-separated, header on line 4",
            {"Email Address": "email", "Position": "title", "Company": "company", "URL": "not used"},
        ),
        (
            "hubspot-contacts.csv",
            "utf-8-sig, comma-separated, header on line 1",
            {"Website URL": "domain", "Job Title": "title", "Company Name": "company"},
        ),
        (
            "salesforce-leads.csv",
            "cp1252, semicolon-separated, header on line 1",
            {"Website": "domain", "Email": "email", "Lead ID": "not used"},
        ),
        (
            "plain.tsv",
            "utf-8-sig, tab-separated, header on line 1",
            {"domain": "domain", "company": "company", "name": "name", "email": "email", "title": "title"},
        ),
    ],
)
def test_each_export_is_read_and_mapped(name: str, shape: str, expected: dict[str, str]) -> None:
    plan = read_plan(LISTS / name, [])
    assert plan.shape.describe() == shape
    for header, field in expected.items():
        assert plan.mapping.decisions[header] == field


def test_apollo_people_rows_merge_skip_and_keep_no_guessed_address(services: Services) -> None:
    report = do_import(services, "apollo-people.csv")
    assert report.rows == 10
    assert len(report.imported) == 6
    assert [n.as_dict() for n in report.skipped] == [
        {"line": 6, "reason": "free-mail address (gmail.com) and no company domain or website"},
        {"line": 9, "reason": "no domain, website or work email in this row"},
    ]
    assert report.merged == [3, 10]  # Acme again (by domain), and Priya again (by domain and email)
    acme = prospect_id("acme-health.example")
    prospect = services.store.prospects.get(acme)
    assert prospect is not None and prospect.state is State.DISCOVERED
    assert prospect.contact_email == "priya.raman@acme-health.example"
    contacts = {c.name: c for c in services.store.contacts.of(acme)}
    assert set(contacts) == {"Priya Raman", "Tom Okafor"}
    assert contacts["Tom Okafor"].email is None  # Apollo marked it "Guessed": not kept
    cedar = services.store.prospects.get(prospect_id("cedar-labs.example"))
    assert cedar is not None and cedar.contact_email is None  # info@ is a role address, never the addressee
    (role,) = services.store.contacts.of(cedar.id)
    assert role.flags == ["role"] and role.email == "info@cedar-labs.example"
    # an internationalised website is one prospect under its punycode domain
    assert services.store.prospects.get(prospect_id("xn--vora-sade-93a8q.example")) is not None
    assert {n.line for n in report.warnings} == {3, 7, 11}
    assert all("not-an-email" not in n.reason for n in report.warnings)  # notes are stored: no raw values


def test_provenance_is_journaled_and_named_by_the_notice_source(services: Services) -> None:
    do_import(services, "apollo-people.csv")
    acme = prospect_id("acme-health.example")
    (discovered,) = [e for e in services.store.journal.entries(acme) if e.kind == "discovered"]
    assert discovered.payload["origin"] == "import"
    assert discovered.payload["file"] == "apollo-people.csv"
    assert discovered.payload["line"] == 2
    assert len(discovered.payload["row_hash"]) == 32
    assert discovered.actor == "operator:test"
    from gtm_pipeline.outreach.sender import _source_url

    assert _source_url(services.store, acme, "priya.raman@acme-health.example") == (
        "a contact list we imported (apollo-people.csv)"
    )


def test_encodings_preamble_and_quoted_newlines(services: Services) -> None:
    report = do_import(services, "salesforce-leads.csv")
    linde = services.store.prospects.get(prospect_id("linde-klinikum.example"))
    assert linde is not None and linde.contact_name == "Zoë Müller"  # Windows-1252, read as such
    assert len(report.imported) == 2
    linkedin = do_import(services, "Connections.csv")
    assert [n.as_dict() for n in linkedin.skipped] == [
        {"line": 6, "reason": "company 'Iris Diagnostics' has no domain, website or work email in this row"},
        {"line": 7, "reason": "no domain, website or work email in this row"},
    ]
    plain = do_import(services, "plain.tsv")
    assert plain.merged == [3]  # NORTH-PINE.example/careers is north-pine.example
    assert [n.as_dict() for n in plain.skipped] == [
        {"line": 5, "reason": "free-mail address (outlook.com) and no company domain or website"},
        {"line": 6, "reason": "an empty row (every cell blank)"},  # reported, not dropped unseen
    ]
    pine = services.store.contacts.of(prospect_id("pine-valley.example"))
    assert pine[0].title == "Notes with a\nnewline, and a comma"


def test_importing_the_same_file_again_changes_nothing(services: Services) -> None:
    first = do_import(services, "apollo-people.csv")
    before = services.store.content_digest()
    again = do_import(services, "apollo-people.csv")
    assert services.store.content_digest() == before
    assert again.already_imported and again.imported == [] and again.contacts_added == 0
    assert len(again.merged) == len(first.merged) + len(first.imported)


def test_a_dry_run_shows_the_same_numbers_and_writes_nothing(services: Services) -> None:
    before = services.store.content_digest()
    dry = do_import(services, "apollo-people.csv", dry_run=True)
    assert services.store.content_digest() == before
    real = do_import(services, "apollo-people.csv")
    assert {k: v for k, v in dry.as_dict().items() if k != "dry_run"} == {
        k: v for k, v in real.as_dict().items() if k != "dry_run"
    }


def test_a_failure_mid_import_leaves_nothing_half_imported(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = services.store.content_digest()

    def disk_full(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")  # after the prospects were written, inside the transaction

    monkeypatch.setattr(services.store.contacts, "add_many_in", disk_full)
    with pytest.raises(RuntimeError, match="disk full"):
        do_import(services, "apollo-people.csv")
    assert services.store.content_digest() == before
    assert services.store.prospects.find() == []


def test_suppressed_companies_and_people_are_never_imported(services: Services) -> None:
    services.store.privacy.suppress(prospect_id("birch-clinics.example"), kind="prospect", reason="erased")
    services.store.privacy.suppress(
        email_hash("priya.raman@acme-health.example"), kind="email", reason="unsubscribed"
    )
    report = do_import(services, "apollo-people.csv")
    assert services.store.prospects.get(prospect_id("birch-clinics.example")) is None
    assert {"line": 4, "reason": "suppressed (erased): never imported again"} in [
        n.as_dict() for n in report.skipped
    ]
    acme = services.store.prospects.get(prospect_id("acme-health.example"))
    assert acme is not None and acme.contact_email is None
    assert all(c.email != "priya.raman@acme-health.example" for c in services.store.contacts.of(acme.id))


def test_an_existing_customer_is_imported_as_a_conflict(services: Services, tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(
        "Website,Company,Email\nriverbend-medical.example,Riverbend,kai@riverbend-medical.example\n"
    )
    plan = read_plan(listing, [])
    accounts = load_accounts(STARTER / "accounts.csv")
    report = apply_plan(
        services.store, plan, services.hypotheses[HYPOTHESIS], accounts, actor="operator:test"
    )
    (pid,) = report.conflicts
    prospect = services.store.prospects.get(pid)
    assert prospect is not None and prospect.state is State.CONFLICT


def named_file(tmp_path: Path) -> Path:
    named = tmp_path / "named.csv"
    named.write_text("Org Site,Company,Title\nquill-health.example,Quill,CTO\n")
    return named


def test_unknown_headers_need_a_map_and_the_map_is_checked(services: Services, tmp_path: Path) -> None:
    listing = tmp_path / "odd.csv"
    listing.write_text("Org Site;Org;Person Mail\nquill-health.example;Quill;amy@quill-health.example\n")
    with pytest.raises(TableError, match="--map"):
        read_plan(listing, [])
    rescued = read_plan(listing, ["Org Site=domain", "Org=company", "Person Mail=email"])
    assert list(rescued.companies) == ["quill-health.example"]
    with pytest.raises(MappingError, match="no column"):
        read_plan(named_file(tmp_path), ["Nope=domain"])
    with pytest.raises(MappingError, match="unknown field"):
        read_plan(named_file(tmp_path), ["Org Site=website_url"])
    named = named_file(tmp_path)
    with pytest.raises(MappingError, match="no column is a domain"):
        read_plan(named, [])
    plan = read_plan(named, ["org site=domain"])
    assert plan.mapping.decisions["Org Site"] == "domain"
    assert list(plan.companies) == ["quill-health.example"]


def test_an_empty_or_headerless_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TableError, match="empty"):
        read_plan(empty, [])
    headerless = tmp_path / "numbers.csv"
    headerless.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(TableError, match="no header row"):
        read_plan(headerless, [])


def test_erasing_a_secondary_contact_leaves_nothing_of_them(services: Services) -> None:
    do_import(services, "plain.tsv")
    north = prospect_id("north-pine.example")
    assert {c.email for c in services.store.contacts.of(north)} == {
        "ada@north-pine.example",
        "ben@north-pine.example",
    }
    held = export(services.store, "ben@north-pine.example", now=TEST_START, response_days=30)
    assert [c["name"] for c in held["contacts"]] == ["Ben Cole"]
    erase(
        services.store,
        "ben@north-pine.example",
        reason="request",
        now=TEST_START,
        response_days=30,
        pages=services.pages,
    )
    ben = [
        c for c in services.store.contacts.of(north) if c.email_hash == email_hash("ben@north-pine.example")
    ]
    assert ben and ben[0].tombstoned and ben[0].name is None and ben[0].email is None
    assert services.store.privacy.suppression_reason(email_hash("ben@north-pine.example")) is not None
    # erasing the whole prospect removes every contact's data and suppresses every address
    erase(services.store, north, reason="request", now=TEST_START, response_days=30, pages=services.pages)
    assert all(c.name is None and c.email is None for c in services.store.contacts.of(north))
    assert services.store.privacy.suppression_reason(email_hash("ada@north-pine.example")) is not None


def test_cli_import_json_then_run_researches_exactly_the_imported(tmp_path: Path) -> None:
    env = {"GTM_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "gtm_pipeline.cli", "import", str(LISTS / "hubspot-contacts.csv")]
    dry = subprocess.run(
        [*command, "--dry-run", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout)
    assert set(shown) >= {"rows", "imported", "merged", "skipped", "mapping"}
    assert (shown["rows"], shown["imported"], shown["dry_run"]) == (2, 2, True)
    done = subprocess.run([*command, "--run"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "imported 2 new companies" in done.stdout
    assert "researched 2 prospects in 1 Dagster run(s)" in done.stdout
    status = subprocess.run(
        [sys.executable, "-m", "gtm_pipeline.cli", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    shown = json.loads(status.stdout)
    # neither company is in the sample corpus and fetching is off: they wait, and the operator is told
    assert shown["summary"]["by_state"] == {"discovered": 2}
    assert shown["inputs"]["fetch_off"] == 2
    assert {e["kind"] for e in shown["waiting"]["escalations"]} == {"research_blocked"}
    assert [(i["file"], i["imported"]) for i in shown["inputs"]["imports"]] == [("hubspot-contacts.csv", 2)]


def test_the_same_person_at_a_second_company_is_a_conflict(services: Services, tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text("Website,Company,Email\nrowan-health.example,Rowan,kai@rowan-health.example\n")
    second = tmp_path / "second.csv"
    second.write_text("Website,Company,Email\nsorrel-care.example,Sorrel,kai@rowan-health.example\n")
    do_import(services, first)
    report = do_import(services, second)
    (pid,) = report.conflicts
    assert pid == prospect_id("sorrel-care.example")
    entries = services.store.journal.entries(pid)
    assert entries[-1].payload["rationale"] == (
        f"the same person is already an active prospect ({prospect_id('rowan-health.example')})"
    )


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9._%+'!#-]{1,70}@[A-Za-z0-9.-]{1,40}\.[A-Za-z0-9-]{1,8}", fullmatch=True))
def test_the_fast_path_for_plain_addresses_agrees_with_email_validator(raw: str) -> None:
    from email_validator import EmailNotValidError, validate_email

    from gtm_pipeline.imports.plan import plain_address

    try:
        accepted = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        accepted = None
    if plain_address(raw):
        assert accepted == raw.lower()


class _Answer:
    def __init__(self, preference: int, exchange: str) -> None:
        self.preference, self.exchange = preference, exchange


class TableResolver:
    """A dnspython-shaped resolver answering from a table: no packet leaves the machine."""

    def __init__(self, mx: dict[str, list[str]]) -> None:
        self.mx = mx
        self.asked: list[tuple[str, str]] = []

    def resolve(self, name: str, rdtype: str) -> list[_Answer]:
        import dns.resolver

        self.asked.append((str(name), rdtype))
        if str(name).rstrip(".") in self.mx and rdtype == "MX":
            return [_Answer(10, host) for host in self.mx[str(name).rstrip(".")]]
        raise dns.resolver.NXDOMAIN


def test_check_mx_asks_once_per_domain_and_flags_domains_that_take_no_mail(services: Services) -> None:
    resolver = TableResolver(
        {"north-pine.example": ["mx1.north-pine.example."], "oak-ridge.example": ["mx.oak."]}
    )
    plan = read_plan(LISTS / "plain.tsv", [], check_mx=True, resolver=resolver)
    asked = [name for name, _ in resolver.asked]
    assert sorted(set(asked)) == ["north-pine.example", "oak-ridge.example", "pine-valley.example"]
    assert asked.count("north-pine.example") == 1  # two people there, one question
    report = apply_plan(services.store, plan, services.hypotheses[HYPOTHESIS], {}, actor="operator:test")
    pine = services.store.prospects.get(prospect_id("pine-valley.example"))
    assert pine is not None and pine.contact_email is None  # its domain takes no mail: not the addressee
    (eve,) = services.store.contacts.of(pine.id)
    assert "undeliverable" in eve.flags
    assert any(n.line == 7 and "undeliverable" in n.reason for n in report.warnings)
    north = services.store.prospects.get(prospect_id("north-pine.example"))
    assert north is not None and north.contact_email == "ada@north-pine.example"


def test_opt_outs_are_suppressed_and_unverified_addresses_never_addressed(
    services: Services, tmp_path: Path
) -> None:
    listing = tmp_path / "crm.csv"
    listing.write_text(
        "Website,Company,Email,Email Status,Email Opt Out\n"
        "tern-health.example,Tern,lu@tern-health.example,Verified,true\n"
        "wren-care.example,Wren,mo@wren-care.example,Unverified,false\n"
    )
    report = do_import(services, listing)
    assert report.suppressed_opt_outs == 1
    assert services.store.privacy.suppression_reason(email_hash("lu@tern-health.example")) is not None
    assert services.store.contacts.of(prospect_id("tern-health.example")) == []
    wren = services.store.prospects.get(prospect_id("wren-care.example"))
    assert wren is not None and wren.contact_email is None
    (mo,) = services.store.contacts.of(wren.id)
    assert mo.flags == ["unverified"]


def test_a_second_list_gives_a_known_company_its_missing_addressee(
    services: Services, tmp_path: Path
) -> None:
    first = tmp_path / "accounts.csv"
    first.write_text("Website,Company\nyew-clinic.example,Yew\n")
    second = tmp_path / "people.csv"
    second.write_text("Website,Company,Name,Email\nyew-clinic.example,Yew,Ann Lee,ann@yew-clinic.example\n")
    do_import(services, first)
    report = do_import(services, second)
    assert report.addressees_set == [prospect_id("yew-clinic.example")]
    yew = services.store.prospects.get(prospect_id("yew-clinic.example"))
    assert yew is not None and yew.contact_email == "ann@yew-clinic.example"
    assert services.store.journal.entries(yew.id)[-1].kind == "addressee_chosen"


def test_a_dns_timeout_is_shown_not_passed_as_deliverable(services: Services) -> None:
    import dns.exception

    class Silent(TableResolver):
        def resolve(self, name: str, rdtype: str) -> list[_Answer]:
            raise dns.exception.Timeout

    plan = read_plan(LISTS / "plain.tsv", [], check_mx=True, resolver=Silent({}))
    notes = [n.reason for n in plan.warnings]
    assert any("unknown: DNS gave no answer" in n for n in notes)
    assert all("undeliverable" not in c.flags for co in plan.companies.values() for c in co.contacts)


def test_a_free_mail_platform_or_ip_website_is_no_company(services: Services, tmp_path: Path) -> None:
    listing = tmp_path / "bad.csv"
    listing.write_text(
        "Company,Website,Email\n"
        "Gee,gmail.com,\n"
        "Acme,https://www.linkedin.com/company/acme,\n"
        "Beta,https://linkedin.com/company/beta,\n"
        "Local,127.0.0.1,\n"
        "Rowan,https://www.linkedin.com/company/rowan,kai@rowan-health.example\n"
    )
    plan = read_plan(listing, [])
    reasons = {note.line: note.reason for note in plan.skipped}
    assert sorted(reasons) == [2, 3, 4, 5]
    assert (
        "free-mail provider" in reasons[2] and "shared platform" in reasons[3] and "IP address" in reasons[5]
    )
    assert list(plan.companies) == ["rowan-health.example"]  # the work email's domain stands in
    assert any("took the email's domain" in note.reason for note in plan.warnings)


def test_internationalised_domains_and_addresses_are_one_identity_in_punycode(
    services: Services, tmp_path: Path
) -> None:
    listing = tmp_path / "idn.csv"
    listing.write_text(
        "domain,company,name,email,title\n"
        "https://www.straße-kliniken.example/,Straße Kliniken,Jonas Weiß,Jonas@Straße-Kliniken.example,CISO\n"
        "xn--strae-kliniken-3fb.example,Straße,Jonas Weiß,jonas@xn--strae-kliniken-3fb.example,CISO\n"
        ",Bücher Haus,Lena Roth,lena@bücher.example,COO\n"
        "bü-.example,Broken Label,,,\n"
        ",Broken Punycode,Ana Lima,ana@xn--zz.example,CFO\n"
        "xn--zz.example,Rescued,Kai Berg,kai@bücher.example,CTO\n",
        encoding="utf-8",
    )
    report = do_import(services, listing)
    # ß is kept (IDNA2008): strasse-kliniken.example would be somebody else's domain
    klinik = services.store.prospects.get(prospect_id("xn--strae-kliniken-3fb.example"))
    assert klinik is not None and klinik.contact_email == "jonas@xn--strae-kliniken-3fb.example"
    assert services.store.prospects.get(prospect_id("strasse-kliniken.example")) is None
    assert [c.email for c in services.store.contacts.of(klinik.id)] == [
        "jonas@xn--strae-kliniken-3fb.example"
    ]
    assert report.merged == [3, 7]  # the same company and person spelt in punycode; Bücher again
    buecher = services.store.prospects.get(prospect_id("bücher.example"))
    assert buecher is not None and buecher.contact_email == "lena@xn--bcher-kva.example"
    skipped = {n.line: n.reason for n in report.skipped}
    assert sorted(skipped) == [5, 6]
    assert skipped[5] == (
        "invalid domain 'bü-.example': not a valid internationalized domain name "
        "(Label must not start or end with a hyphen): 'bü-.example'"
    )
    assert skipped[6] == "company 'Broken Punycode' has no domain, website or work email in this row"
    warnings = {n.line: n.reason for n in report.warnings}
    assert "the email is not an address" in warnings[6] and "IDNA" in warnings[6]
    assert warnings[7].startswith(
        "invalid domain 'xn--zz.example' (not a valid internationalized domain name"
    )
    assert warnings[7].endswith("took the email's domain")
    assert {c.email for c in services.store.contacts.of(buecher.id)} == {
        "lena@xn--bcher-kva.example",
        "kai@xn--bcher-kva.example",
    }
