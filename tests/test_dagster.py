"""The Dagster wiring, materialized for real on an ephemeral instance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from gtm_pipeline.config import load_settings
from gtm_pipeline.definitions import defs as lazy_defs
from gtm_pipeline.defs.partitions import PROSPECTS, RANGE_END_TAG, RANGE_START_TAG
from gtm_pipeline.defs.research.sensors import new_prospects
from gtm_pipeline.defs.resources import gtm_resource, resend_resource
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.orchestrate import run_graph
from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.store.schema import artifacts as artifacts_table
from tests.conftest import REPO, STARTER, sending_on
from tests.corpus import expected


def _defs() -> dg.Definitions:
    return lazy_defs() if not isinstance(lazy_defs, dg.Definitions) else lazy_defs  # type: ignore[no-any-return]


def _contacts() -> list[str]:
    corpus = SampleCorpus(STARTER / "corpus")
    found = []
    for candidate in corpus.candidates():
        if candidate.contact:
            found += [candidate.contact.email, candidate.contact.name]
    return found


def test_definitions_hold_the_graph_the_design_asks_for() -> None:
    graph = _defs().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "hypothesis/healthcare_compliance_automation",
        "discovery/healthcare_compliance_automation",
        "raw_sources",
        "profile",
        "draft",
        "context_pack",
        "journal",
        "conversation",
    } == keys
    profile = graph.get(dg.AssetKey("profile"))
    assert profile.partitions_def == dg.DynamicPartitionsDefinition(name=PROSPECTS)
    assert profile.code_version and "augment-profile@1.0.0" in profile.code_version
    assert {k.name for k in graph.asset_check_keys} == {
        "profile_contract",
        "draft_contract",
        "context_pack_contract",
    }
    assert sorted(s.name for s in _defs().schedules) == [
        "crm_sync_every_10_minutes",
        "daily_discovery",
        "hourly_time_rules",
        "send_every_15_minutes",
    ]
    assert sorted(s.name for s in _defs().sensors) == [
        "escalation_alerts",
        "failed_runs",
        "follow_ups_due",
        "inbox_events",
        "new_prospects",
        "skill_batches",
    ]


def test_dagster_definitions_validate_passes(gtm_home: Path) -> None:
    env = {**os.environ, "GTM_HOME": str(gtm_home), "DAGSTER_HOME": str(gtm_home / "dagster")}
    (gtm_home / "dagster").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_whole_graph_materializes_with_per_prospect_provenance(gtm_home: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_graph(instance, log_level="WARNING")
        assert outcome.success and outcome.partitions == expected().prospects
        assert len(outcome.run_ids) == 2  # discovery, then ONE ranged run for all prospects
        assert sorted(instance.get_dynamic_partitions(PROSPECTS)) == sorted(
            set(instance.get_dynamic_partitions(PROSPECTS))
        )
        pid = prospect_id("medibridge-health.example")
        event = instance.get_latest_materialization_event(dg.AssetKey("profile"))
        assert event is not None
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("draft"), asset_partitions=[pid]), limit=1
        ).records
        metadata = {k: v.value for k, v in records[0].asset_materialization.metadata.items()}  # type: ignore[union-attr]
        assert metadata["prospect_id"] == pid
        assert metadata["skill"] == "draft-first-touch" and metadata["skill_version"] == "1.0.0"
        assert metadata["group"] == "writing-copilot" and metadata["provider"] == "offline"
        assert metadata["input_tokens"] > 0 and str(metadata["journal_ids"]).startswith("j_")
        sources = (
            instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_sources"), asset_partitions=[pid]), limit=1
            )
            .records[0]
            .asset_materialization
        )
        assert sources is not None and sources.metadata["sources"].value == 5
        checks = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("profile"), "profile_contract"), limit=5
        )
        assert checks and all(c.status.value == "SUCCEEDED" for c in checks)
        # no name or email of any contact anywhere in Dagster's metadata or tags
        everything = repr(
            [
                r.event_log_entry
                for r in instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey("draft")), limit=1000
                ).records
            ]
        )
        everything += repr([instance.get_run_by_id(run_id).tags for run_id in outcome.run_ids])  # type: ignore[union-attr]
        for personal in _contacts():
            assert personal not in everything


def test_the_graph_fails_loudly_when_a_stored_profile_is_tampered_with(gtm_home: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_graph(instance, log_level="WARNING").success
        resource = gtm_resource()
        store = resource.services.store
        pid = prospect_id("carepoint-clinics.example")
        profile = store.artifacts.latest(pid, "profile")
        assert profile is not None and profile.content is not None
        forged = profile.content.replace(
            "CarePoint Clinics is a primary care", "CarePoint Clinics is a happy customer"
        )
        with store.engine.begin() as c:  # behind the store's back, on either backend
            c.execute(
                sa.update(artifacts_table).where(artifacts_table.c.id == profile.id).values(content=forged)
            )
        keys = instance.get_dynamic_partitions(PROSPECTS)
        result = (
            _defs()
            .resolve_job_def("prospect_pipeline_job")
            .execute_in_process(
                instance=instance,
                tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                raise_on_error=False,
            )
        )
        evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == "profile_contract"]
        by_partition = {e.partition: e for e in evaluations}
        assert set(by_partition) == {*keys, None}  # each partition its own result, then the run's
        assert not by_partition[pid].passed and pid in str(by_partition[pid].metadata["problems"].value)
        assert all(e.passed for key, e in by_partition.items() if key not in (pid, None))
        assert not by_partition[None].passed
        resource.services.close()


def test_the_new_prospects_sensor_requests_one_ranged_run(gtm_home: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        _defs().resolve_job_def("discovery_job").execute_in_process(
            instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
        )
        with dg.build_sensor_context(instance=instance, resources={"gtm": gtm_resource()}) as context:
            result = new_prospects(context)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests or []
        keys = instance.get_dynamic_partitions(PROSPECTS)
        assert request.partition_key_range == dg.PartitionKeyRange(keys[0], keys[-1])
        with dg.build_sensor_context(
            instance=instance, cursor=result.cursor, resources={"gtm": gtm_resource()}
        ) as ctx:
            assert isinstance(new_prospects(ctx), dg.SkipReason)  # requested once, not every tick


def test_replies_reach_dagster_through_the_inbox_sensor(
    gtm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Send through the twin, let its webhooks land in the receiver, then sensor -> one ranged run."""
    import base64
    import datetime as dt

    import resend

    from gtm_pipeline.app import receiver_app
    from gtm_pipeline.defs.outreach.conversation import inbox_events
    from gtm_pipeline.domain.states import State
    from gtm_pipeline.outreach.local_server import serving
    from gtm_pipeline.outreach.resend_client import ResendClient
    from gtm_pipeline.outreach.sender import run_sending
    from gtm_pipeline.outreach.settings import sending_settings
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.twins.resend_twin import ResendTwin, WebhookTarget

    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_graph(instance, log_level="WARNING").success
        services = Services.from_settings(load_settings())
        store = services.store
        for item in store.reviews.pending():
            store.reviews.decide(item.id, approve=True, actor="operator:test", reason="ok")
        sending_on(services)
        with ResendTwin(default_behaviour="interested") as twin:
            monkeypatch.setenv("RESEND_API_KEY", twin.api_key)
            monkeypatch.setenv("RESEND_API_URL", twin.url)
            client = ResendClient.from_settings(load_settings())
            with serving(receiver_app(store, sending_settings(services.settings), secret, None)) as base:
                twin.webhook = WebhookTarget(f"{base}/webhooks/resend", secret)
                monday = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
                sent = [
                    r
                    for r in run_sending(store, sending_settings(services.settings), client, monday)
                    if r.outcome == "sent"
                ]
                twin.flush()
            assert sent
            with dg.build_sensor_context(instance=instance, resources={"gtm": gtm_resource()}) as context:
                result = inbox_events(context)
            assert isinstance(result, dg.SensorResult)
            assert result.run_requests
            job = _defs().resolve_job_def("conversation_job")
            for request in result.run_requests:
                outcome = job.execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    tags=request.tags,
                    # the key and URL of the twin, set after the code location was loaded
                    resources={"gtm": gtm_resource(), "resend": resend_resource()},
                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                )
                assert outcome.success
            resend.api_key = None
        replied = [r.prospect_id for r in sent]
        for pid in replied:
            assert store.prospects.get(pid).state is State.REPLIED  # type: ignore[union-attr]
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("conversation"), asset_partitions=[replied[0]]),
            limit=1,
        ).records
        metadata = {k: v.value for k, v in records[0].asset_materialization.metadata.items()}  # type: ignore[union-attr]
        assert metadata["state"] == "replied" and metadata["categories"] == "interested"
        everything = repr(
            [
                r.event_log_entry
                for r in instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey("conversation")), limit=1000
                ).records
            ]
        )
        for personal in _contacts():
            assert personal not in everything
        with dg.build_sensor_context(
            instance=instance, cursor=result.cursor, resources={"gtm": gtm_resource()}
        ) as ctx:
            assert isinstance(inbox_events(ctx), dg.SkipReason)
        services.close()
