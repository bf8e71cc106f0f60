"""No failure is silent: escalations are raised where failures are decided and stay until acknowledged."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from gtm_pipeline.cli.views import waiting_for_operator
from gtm_pipeline.config import load_settings
from gtm_pipeline.defs.audit.failures import failed_runs
from gtm_pipeline.defs.resources import gtm_resource
from gtm_pipeline.outreach.sender import check_domain_health
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.pipeline.services import Services
from tests.helpers import run_all


def test_a_dead_letter_is_escalated_once_and_leaves_when_acknowledged(services: Services) -> None:
    run_all(services)
    run_all(services)  # the same dead letter again: still one escalation
    escalations = services.store.escalations
    (dead,) = [e for e in escalations.open() if e.kind == "dead_letter"]
    assert dead.subject and dead.subject.startswith("p_") and "augment-profile" in dead.detail
    assert [e["id"] for e in waiting_for_operator(services.store)["escalations"]] == [dead.id]
    assert escalations.open_count() == 1
    assert escalations.acknowledge(dead.id, actor="operator:test", note="looked at the source")
    assert not escalations.acknowledge(dead.id, actor="operator:test")
    assert escalations.open() == [] and escalations.open_count() == 0
    (entry,) = services.store.journal.entries(f"escalation:{dead.id}")
    assert entry.kind == "escalation_acknowledged" and entry.actor == "operator:test"


def test_a_domain_halted_by_its_bounce_rate_is_escalated_until_resumed(services: Services) -> None:
    import datetime as dt

    from gtm_pipeline.domain.ids import email_hash
    from gtm_pipeline.outreach.sender import resume_domain
    from gtm_pipeline.store.ledger import Touch

    run_all(services)
    settings = SendingSettings(unsubscribe_secret=b"k", health_min_sends=5)
    ledger = services.store.ledger
    now = services.clock.now()
    for n, prospect in enumerate(services.store.prospects.find()[:5]):
        touch = Touch(
            f"t_{n}",
            prospect.id,
            1,
            f"k/{n}",
            f"<t_{n}@x>",
            "a_x",
            settings.mailbox,
            settings.sending_domain,
            email_hash(f"p{n}@x.example"),
            {},
            "pending",
            None,
            0,
            now,
            None,
        )
        ledger.open_touch(touch)
        with services.store.writing() as c:  # a sent touch, as the send step records it
            from gtm_pipeline.store import schema as t

            sent = t.outbox.update().where(t.outbox.c.touch_id == touch.touch_id)
            c.execute(sent.values(status="sent", sent_at=now))
        if n == 0:
            ledger.mark_outcome(touch.touch_id, "bounced_at", now)
    reason = check_domain_health(services.store, ledger, settings)
    assert reason is not None and reason.startswith("bounce rate 1/5")
    (halt,) = [e for e in services.store.escalations.open() if e.kind == "domain_halt"]
    assert halt.subject == settings.sending_domain
    assert check_domain_health(services.store, ledger, settings) == reason  # sticky: no second escalation
    assert len([e for e in services.store.escalations.open() if e.kind == "domain_halt"]) == 1
    services.clock.set(now + dt.timedelta(hours=1))  # type: ignore[attr-defined]
    resume_domain(services.store, settings.sending_domain, actor="operator:test", reason="list cleaned")
    assert ledger.halt(settings.sending_domain) is None
    assert check_domain_health(services.store, ledger, settings) is None  # judged on sends after the resume


def test_a_failed_dagster_run_becomes_an_escalation(gtm_home: Path) -> None:
    @dg.op
    def explode() -> None:
        raise RuntimeError("provider configuration is broken")

    @dg.job
    def fragile() -> None:
        explode()

    with dg.DagsterInstance.ephemeral() as instance:
        result = fragile.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.PIPELINE_FAILURE)
        with dg.build_run_status_sensor_context(
            sensor_name="failed_runs",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,  # type: ignore[arg-type]
            resources={"gtm": gtm_resource()},
        ) as status_context:
            context = status_context.for_run_failure()
            failed_runs(context)
            failed_runs(context)  # a sensor re-evaluating the same run adds nothing
    services = Services.from_settings(load_settings())
    try:
        (escalation,) = services.store.escalations.open()
        assert escalation.kind == "run_failure" and escalation.subject == result.run_id
        assert escalation.detail.startswith("fragile:")
    finally:
        services.close()
