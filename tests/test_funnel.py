"""The funnel to the money (issue 19, items 3 and 4): stages counted from a real store's journal,
per hypothesis, drafting skill version and strongest signal, with Wilson intervals, small samples
said in words, and the outcome records graduation reads."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from gtm_pipeline.domain.states import Event
from gtm_pipeline.funnel import (
    STAGES,
    FunnelRow,
    Rate,
    funnel_data,
    funnel_report,
    outcome_blockers,
    skill_version_outcomes,
    wilson,
)
from gtm_pipeline.funnel.cache import cached_funnel
from gtm_pipeline.funnel.compute import FunnelData
from gtm_pipeline.funnel.snapshot import Snapshot
from gtm_pipeline.pipeline.privacy import erase
from gtm_pipeline.pipeline.services import Services
from tests.test_funnel_campaign import ALPHA, BETA, DRAFT_SKILL, GROUP, V1, V2, Campaign, build, signal


@pytest.fixture
def campaign(services: Services) -> Campaign:
    return build(services.store)


def _counts(row: FunnelRow) -> list[int]:
    return [s.count for s in row.stages]


def _by_key(rows: list[FunnelRow]) -> dict[str, list[int]]:
    return {row.key: _counts(row) for row in rows}


def test_stages_are_counted_from_the_journal_per_hypothesis(services: Services, campaign: Campaign) -> None:
    with funnel_data(services.store) as data:
        rows = data.rows("hypothesis")
        total = data.total()
        beta_only = data.rows("signal", hypothesis=BETA)
    assert [s.name for s in rows[0].stages] == list(STAGES)
    #                     discovered qualified sent replied positive meeting won
    assert _by_key(rows) == {ALPHA: [7, 5, 4, 3, 2, 2, 1], BETA: [2, 2, 2, 1, 1, 0, 0]}
    assert _counts(total) == [9, 7, 6, 4, 3, 2, 1]
    assert _by_key(beta_only) == {"funding": [1, 1, 1, 0, 0, 0, 0], "hiring": [1, 1, 1, 1, 1, 0, 0]}
    alpha = rows[0]
    assert alpha.stages[0].rate is None  # nothing before discovered
    replied = alpha.stages[STAGES.index("replied")].rate
    assert replied is not None and (replied.hits, replied.n) == (3, 4)  # a share of the stage before
    assert (alpha.meeting_rate.hits, alpha.meeting_rate.n) == (2, 4)  # meetings per prospect written to


def test_per_skill_version_is_the_draft_of_the_first_touch_sent(
    services: Services, campaign: Campaign
) -> None:
    with funnel_data(services.store) as data:
        rows = _by_key(data.rows("skill"))
    assert rows == {
        # p2 (drafted, not sent: its latest draft), p3, p4 (first touch by V1, follow-up by V2), p5
        f"{DRAFT_SKILL}@{V1}": [4, 4, 3, 2, 1, 1, 1],
        f"{DRAFT_SKILL}@{V2}": [3, 3, 3, 2, 2, 1, 0],  # p6, p8, p9
        "no draft": [2, 0, 0, 0, 0, 0, 0],  # p1, p7
    }


def test_per_signal_is_discoverys_strongest_signal(services: Services, campaign: Campaign) -> None:
    with funnel_data(services.store) as data:
        rows = data.rows("signal")
    assert _by_key(rows) == {
        "funding": [3, 3, 3, 2, 2, 2, 1],  # p5 (funding outweighs hiring), p6, p9
        "hiring": [3, 3, 3, 2, 1, 0, 0],  # p3, p4, p8 (the tie: the earlier signal)
        "none": [2, 0, 0, 0, 0, 0, 0],  # imported (p1) and no signal journaled (p7)
        "product_launch": [1, 1, 0, 0, 0, 0, 0],  # no signal list: the discovery skill's own type
    }
    funding = next(r for r in rows if r.key == "funding")
    assert (funding.meeting_rate.hits, funding.meeting_rate.n) == (2, 3)


def test_a_cancelled_booking_is_not_a_meeting_unless_booked_again() -> None:
    """The meeting rule on a snapshot as the store would hand it over: a booking moved back to
    `replied` is cancelled; one booked again, or held (moved forward), counts."""

    def moves(pid: str, *pairs: tuple[str, str, str]) -> list[dict[str, object]]:
        return [
            {"subject": pid, "row": i, "kind": "transition", "event": e, "from_state": a, "to_state": b}
            for i, (e, a, b) in enumerate(pairs)
        ]

    booked = ("meeting_booked", "replied", "meeting_booked")
    cancelled = ("meeting_cancelled", "meeting_booked", "replied")
    held = ("meeting_held", "meeting_booked", "meeting_held")
    events = pd.DataFrame(
        moves("p_a", booked)
        + moves("p_b", booked, cancelled)
        + moves("p_c", booked, cancelled, booked)
        + moves("p_d", booked, held),
        columns=["subject", "row", "kind", "event", "from_state", "to_state", "category"],
    )
    snapshot = Snapshot(
        prospects=pd.DataFrame({"id": ["p_a", "p_b", "p_c", "p_d"], "hypothesis": ["h"] * 4}),
        events=events.astype({"category": "string"}),
        discoveries=pd.DataFrame(columns=["subject", "signals", "signal_type"], dtype="string"),
        drafts=pd.DataFrame(
            {
                "artifact_id": pd.Series(dtype="string"),
                "prospect_id": pd.Series(dtype="string"),
                "created_at": pd.Series(dtype="datetime64[ns, UTC]"),
                "skill": pd.Series(dtype="string"),
                "version": pd.Series(dtype="string"),
                "group": pd.Series(dtype="string"),
            }
        ),
        touches=pd.DataFrame(
            {
                "touch_id": pd.Series(dtype="string"),
                "prospect_id": pd.Series(dtype="string"),
                "touch_number": pd.Series(dtype="Int64"),
                "artifact_id": pd.Series(dtype="string"),
                "sent": pd.Series(dtype="boolean"),
            }
        ),
    )
    data = FunnelData(snapshot)
    try:
        met = dict(data.query("SELECT id, meeting FROM reach"))
    finally:
        data.close()
    assert met == {"p_a": True, "p_b": False, "p_c": True, "p_d": True}


def test_wilson_intervals_match_the_published_values() -> None:
    assert wilson(0, 0) is None
    for hits, n, low, high in [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0)]:
        interval = wilson(hits, n)
        assert interval is not None
        assert interval == pytest.approx((low, high), abs=1e-4)
    narrow, wide = wilson(50, 1000), wilson(1, 20)
    assert narrow is not None and wide is not None
    assert narrow[1] - narrow[0] < wide[1] - wide[0]  # more prospects, a narrower interval
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_a_small_sample_says_so_in_words() -> None:
    small, enough, none = Rate(3, 10), Rate(12, 40), Rate(0, 0)
    assert small.small_sample and small.note is not None
    assert (
        "small sample" in small.note and "only 10 prospects" in small.note and "fewer than 30" in small.note
    )
    assert small.words.startswith("3 of 10 (30%, 95% CI 11%-60%); small sample")
    assert not enough.small_sample and enough.note is None
    assert enough.words == "12 of 40 (30%, 95% CI 18%-45%)"
    assert none.value is None and none.interval is None and "no sample yet" in (none.note or "")
    assert Rate(1, 1).note is not None and "only 1 prospect " in (Rate(1, 1).note or "")
    shown = small.as_dict()
    assert shown["small_sample"] is True and shown["ci95"] == [0.1078, 0.6032] and shown["n"] == 10


def test_the_report_document_has_rates_intervals_and_warnings(services: Services, campaign: Campaign) -> None:
    document = funnel_report(services.store, "hypothesis")
    assert document["stages"] == list(STAGES) and document["interval"] == "Wilson score, 95%"
    alpha = next(g for g in document["groups"] if g["key"] == ALPHA)
    won = alpha["stages"][-1]
    assert won["stage"] == "won" and won["count"] == 1
    assert won["from_previous"]["hits"] == 1 and won["from_previous"]["n"] == 2
    assert won["from_previous"]["small_sample"] is True and "small sample" in won["from_previous"]["note"]
    assert document["total"]["stages"][0]["count"] == 9
    json.dumps(document)  # plain JSON all the way down


def test_gtm_report_prints_the_funnel_and_its_json(services: Services, campaign: Campaign) -> None:
    from gtm_pipeline.cli import app
    from gtm_pipeline.cli import report as _registered  # noqa: F401  (the lead adds it to _register)
    from gtm_pipeline.cli.common import forget_settings

    forget_settings()
    runner = CliRunner()
    shown = runner.invoke(app, ["report", "--by", "signal", "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["by"] == "signal"
    assert {g["key"] for g in document["groups"]} == {"funding", "hiring", "none", "product_launch"}
    text = runner.invoke(app, ["report"])
    assert text.exit_code == 0, text.output
    assert "funnel by hypothesis" in text.output and ALPHA in text.output and BETA in text.output
    assert "won" in text.output and "95% CI" in text.output and "small sample" in text.output
    beta = json.loads(runner.invoke(app, ["report", "--by", "signal", "--hypothesis", BETA, "--json"]).stdout)
    assert {g["key"] for g in beta["groups"]} == {"funding", "hiring"} and beta["total"]["stages"][0][
        "count"
    ] == 2
    refused = runner.invoke(app, ["report", "--by", "colour"])
    assert refused.exit_code != 0


def test_a_skill_versions_outcomes_count_the_prospects_it_touched(
    services: Services, campaign: Campaign
) -> None:
    records = skill_version_outcomes(services.store, DRAFT_SKILL)
    assert [(r.version, r.group, r.touched, r.meetings, r.wins) for r in records] == [
        (V1, GROUP, 3, 1, 1),  # p3, p4, p5 (p5 won)
        (V2, GROUP, 4, 1, 0),  # p4's follow-up, p6 (meeting), p8, p9
    ]
    (v2,) = skill_version_outcomes(services.store, DRAFT_SKILL, V2)
    assert v2 == records[1] and v2.sample_size == 4 and v2.small_sample
    assert (v2.meeting_rate.hits, v2.meeting_rate.n) == (1, 4) and v2.meeting_rate.interval is not None
    assert v2.as_dict()["win_rate"]["rate"] == 0.0
    assert skill_version_outcomes(services.store, DRAFT_SKILL, "9.9.9") == []
    assert skill_version_outcomes(services.store, "augment-profile") == []


def test_the_outcome_floor_waits_for_its_sample_then_judges_the_rate(
    services: Services, campaign: Campaign
) -> None:
    v1, _v2 = skill_version_outcomes(services.store, DRAFT_SKILL)
    assert outcome_blockers(v1, min_meeting_rate=None, min_sample=50) == []  # no floor set
    (waiting,) = outcome_blockers(v1, min_meeting_rate=0.05, min_sample=10)
    assert "3 touched prospects, 10 needed" in waiting and "7 more" in waiting
    assert outcome_blockers(v1, min_meeting_rate=0.3, min_sample=3) == []  # 1 of 3 meets 30%
    (below,) = outcome_blockers(v1, min_meeting_rate=0.5, min_sample=3)
    assert below.startswith("meeting rate below the floor of 50%: 1 of 3 (33%") and "small sample" in below
    (nothing,) = outcome_blockers(None, min_meeting_rate=0.05, min_sample=20)
    assert "0 touched prospects, 20 needed" in nothing


def test_the_console_reuses_a_funnel_until_the_journal_moves(services: Services, campaign: Campaign) -> None:
    store = services.store
    first = cached_funnel(store)
    assert cached_funnel(store) is first  # nothing changed: not computed again
    pid = campaign.prospect(BETA, [signal("funding", 0.9)])
    again = cached_funnel(store)
    assert again is not first  # a new prospect's journal entry: computed again, and it shows
    assert {r.key: r.count("discovered") for r in again.rows("hypothesis")}[BETA] == 3
    campaign.qualify(pid)
    campaign.send(pid, V2)
    campaign.reply(pid, "interested")
    campaign.apply(pid, Event.MEETING_BOOKED)
    (v2,) = skill_version_outcomes(store, DRAFT_SKILL, V2)  # graduation reads the fresh funnel too
    assert (v2.touched, v2.meetings) == (5, 2)


def test_an_erased_prospect_keeps_its_place_in_the_funnel(services: Services, campaign: Campaign) -> None:
    """An erasure reduces journal payloads to decision metadata (the event and states stay) and keeps
    the send ledger's rows: the prospect's stages and its skill version are still counted."""
    store = services.store
    with funnel_data(store) as before:
        hypotheses, skills = _by_key(before.rows("hypothesis")), _by_key(before.rows("skill"))
    for n in (4, 5):  # p4 replied "not now"; p5 won its deal
        erase(
            store,
            f"person{n}@company-{n}.example",
            reason="test",
            now=store.now(),
            rights_request=False,
            pages=None,
        )
    replies = [e for e in store.journal.entries("p_funnel0004") if e.payload.get("event") == "not_now_reply"]
    # erased: the words are gone, the reply's class stays (decision metadata the funnel counts)
    kept = {"event", "from_state", "to_state", "allowed", "reason", "revisit_on", "resume_on", "revisit_when"}
    kept |= {"category", "tombstone"}
    assert replies and all(e.tombstoned_at and set(e.payload) <= kept for e in replies)
    assert all(e.payload.get("category") == "not_now" for e in replies)
    with funnel_data(store) as after:
        assert _by_key(after.rows("hypothesis")) == hypotheses
        assert _by_key(after.rows("skill")) == skills
    assert [
        (r.version, r.touched, r.meetings, r.wins) for r in skill_version_outcomes(store, DRAFT_SKILL)
    ] == [
        (V1, 3, 1, 1),
        (V2, 4, 1, 0),
    ]
