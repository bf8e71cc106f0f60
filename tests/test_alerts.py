"""Escalations on Slack and Telegram, against the twins of both APIs over loopback: each new
escalation posted once per channel with a link to the console and no address in it; acknowledged
ones closed, not posted; a 429 waits as asked; a failure recorded and escalated, never blocking;
two processes at once post once; an overdue rights request escalates by itself."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import multiprocessing
import re
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from gtm_pipeline.alerts.channels import SlackWebhook, TelegramBot
from gtm_pipeline.alerts.dispatch import dispatch
from gtm_pipeline.alerts.message import REMOVED, compose
from gtm_pipeline.alerts.setup import build_channels
from gtm_pipeline.config import load_settings
from gtm_pipeline.config.alerts import AlertSettings
from gtm_pipeline.config.model import Secrets, SettingsModel
from gtm_pipeline.domain.clock import FixedClock, ManualClock
from gtm_pipeline.pipeline.privacy import record_request
from gtm_pipeline.pipeline.timekeeping import apply
from gtm_pipeline.store import Store
from gtm_pipeline.store.alert_deliveries import CLOSED, FAILED, GAVE_UP, SENT
from gtm_pipeline.store.records import NewProspect
from gtm_pipeline.twins.server import TwinSettings
from gtm_pipeline.twins.slack import SlackTwin
from gtm_pipeline.twins.telegram import TelegramTwin
from tests.conftest import TEST_START

CONSOLE = "http://console.test:8025"
PID = "p_acme0000000001"
ADDRESS = "dana.lee@acme-health.example"
CHAT = "-1001234567890"
ANY_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
ctx = multiprocessing.get_context("spawn")


@pytest.fixture
def store(gtm_home: Path) -> Iterator[Store]:
    opened = Store.open(load_settings().paths.database_url, clock=ManualClock(TEST_START))
    opened.prospects.add(
        NewProspect(PID, "h", "acme-health.example", "Acme Health", "Dana Lee", ADDRESS),
        actor="test",
        payload={},
    )
    yield opened
    opened.close()


@pytest.fixture
def slack() -> Iterator[SlackTwin]:
    with SlackTwin() as twin:
        yield twin


@pytest.fixture
def telegram() -> Iterator[TelegramTwin]:
    with TelegramTwin(chats=(CHAT,)) as twin:
        yield twin


def _settings(telegram: TelegramTwin | None = None, **options: Any) -> AlertSettings:
    values: dict[str, Any] = {"console_url": CONSOLE, **options}
    if telegram is not None:
        values.update(telegram_chat_id=CHAT, telegram_api_url=telegram.url)
    return AlertSettings(**values)


def _channels(slack: SlackTwin | None, telegram: TelegramTwin | None, settings: AlertSettings) -> list[Any]:
    return build_channels(
        settings,
        slack_webhook_url=slack.webhook_url if slack else None,
        telegram_bot_token=telegram.token if telegram else None,
    )


def _raise(store: Store, kind: str, key: str, subject: str | None = PID) -> int:
    assert store.escalations.raise_(kind, key, subject=subject, detail=f"failed while writing to {ADDRESS}")
    (found,) = [e for e in store.escalations.open() if e.key == key]
    return found.id


def _no_sleep(waits: list[float]) -> Callable[[float], None]:
    return waits.append


# ---------------------------------------------------------------- once, with a link, no address


def test_each_new_escalation_is_posted_once_per_channel_with_its_link_and_no_address(
    store: Store, slack: SlackTwin, telegram: TelegramTwin
) -> None:
    settings = _settings(telegram)
    channels = _channels(slack, telegram, settings)
    dead = _raise(store, "dead_letter", "dead_letter:1")
    run = _raise(store, "run_failure", "run_failure:r1", subject="9f1c2a")

    report = dispatch(store, channels, settings)
    assert report.counts() == {"sent": 4}
    assert len(slack.messages) == 2 and len(telegram.messages) == 2
    first_slack, first_telegram = slack.texts()[0], telegram.texts()[0]
    assert f"Escalation #{dead}" in first_slack and "Acme Health" in first_slack
    assert f"<{CONSOLE}/escalations#escalation-{dead}|Open in the console>" in first_slack
    assert f"{CONSOLE}/prospects/{PID}" in first_slack and f"{CONSOLE}/dead-letters" in first_slack
    assert f"{CONSOLE}/escalations#escalation-{dead}" in first_telegram and "Acme Health" in first_telegram
    assert f"Escalation #{run}: a Dagster run failed" in telegram.texts()[1]
    assert telegram.messages[0]["chat_id"] == CHAT
    everything = json.dumps(slack.messages) + json.dumps(telegram.messages)
    assert not ANY_ADDRESS.search(everything), "an email address left in an alert"
    assert "Dana" not in everything

    again = dispatch(store, channels, settings)  # the next tick: nothing new, nothing posted
    assert again.outcomes == [] and len(slack.messages) == 2 and len(telegram.messages) == 2
    assert {d.status for d in store.escalations.deliveries.of(dead)} == {SENT}
    newer = _raise(store, "spend_cap", "spend_cap:bulk:2026-11-23", subject="bulk")
    assert dispatch(store, channels, settings).counts() == {"sent": 2}
    assert f"Escalation #{newer}" in slack.texts()[-1] and f"Escalation #{newer}" in telegram.texts()[-1]


def test_a_message_never_carries_an_address_whatever_the_escalation_says(store: Store) -> None:
    key = "unmatched:1"
    store.escalations.raise_("unmatched_event", key, subject=f"reply from {ADDRESS}", detail=ADDRESS)
    (escalation,) = store.escalations.open()
    alert = compose(store, escalation, message="raised", console_url=CONSOLE)
    rendered = json.dumps(SlackWebhook.render(alert)) + json.dumps(TelegramBot.render(alert, CHAT))
    assert not ANY_ADDRESS.search(rendered) and REMOVED in rendered
    assert ADDRESS not in rendered and "<reply" not in rendered  # Slack's control characters escaped


# ---------------------------------------------------------------- acknowledging closes it


def test_acknowledged_in_the_cli_before_a_pass_is_not_posted_and_a_posted_one_is_resolved(
    store: Store, slack: SlackTwin, gtm_home: Path
) -> None:
    from gtm_pipeline.cli import app

    settings = _settings()
    channels = _channels(slack, None, settings)
    posted = _raise(store, "touch_failed", "touch_failed:t1")
    assert dispatch(store, channels, settings).counts() == {"sent": 1}
    early = _raise(store, "domain_halt", "halt:mail.example:1", subject="mail.example")

    for number in (early, posted):  # the operator acknowledges both, as `gtm escalations ack` does
        done = CliRunner().invoke(app, ["escalations", "ack", str(number), "--note", "seen"])
        assert done.exit_code == 0, done.output

    report = dispatch(store, channels, settings)
    assert store.escalations.deliveries.of(early) == []  # never queued: it was closed before any pass
    assert not any(f"#{early}" in text for text in slack.texts()), "an acknowledged escalation was posted"
    # The one posted before its acknowledgement gets one follow-up, and only one.
    assert [o.message for o in report.outcomes] == ["resolved"]
    assert f"Resolved: escalation #{posted}" in slack.texts()[-1]
    assert dispatch(store, channels, settings).outcomes == [] and len(slack.messages) == 2


def test_acknowledged_in_the_console_between_queueing_and_claiming_is_not_posted(
    store: Store, slack: SlackTwin
) -> None:
    settings = _settings(resolved=False)
    channels = _channels(slack, None, settings)
    number = _raise(store, "circuit_open", "circuit:bulk:1", subject="bulk")
    deliveries = store.escalations.deliveries
    assert deliveries.enqueue(["slack"]) == 1
    store.escalations.acknowledge(number, actor="operator:console")  # what the console's button calls
    (row,) = deliveries.due(["slack"], limit=10)
    assert deliveries.claim(row.id, "me") is None  # the claim itself refuses an acknowledged one
    assert dispatch(store, channels, settings).closed == 1 and slack.messages == []
    (closed,) = deliveries.of(number)
    assert closed.status == CLOSED and closed.last_error == "acknowledged before it was posted"


# ---------------------------------------------------------------- 429, failures, never blocking


@pytest.mark.parametrize("which", ["slack", "telegram"])
def test_a_429_waits_as_long_as_the_channel_asks_then_posts_once(
    store: Store, slack: SlackTwin, telegram: TelegramTwin, which: str
) -> None:
    settings = _settings(telegram)
    twin: Any = slack if which == "slack" else telegram
    channels = [c for c in _channels(slack, telegram, settings) if c.name == which]
    twin.settings.script("rate_limit")
    _raise(store, "provider_busy", "busy:bulk:1", subject="bulk")
    started = time.monotonic()
    report = dispatch(store, channels, settings)
    assert time.monotonic() - started >= 1.0  # Retry-After / retry_after: 1 second, honoured
    assert report.counts() == {"sent": 1} and len(twin.messages) == 1
    (delivery,) = store.escalations.deliveries.of(report.outcomes[0].escalation_id)
    assert delivery.attempts == 2 and delivery.status == SENT


def test_a_wait_longer_than_a_pass_may_block_is_deferred_to_a_later_pass(
    store: Store, gtm_home: Path
) -> None:
    settings = _settings()
    with SlackTwin(settings=TwinSettings(rate_per_s=0.01, burst=1)) as slack:  # then ~100 s to wait
        channels = _channels(slack, None, settings)
        _raise(store, "touch_failed", "touch_failed:a")
        second = _raise(store, "touch_failed", "touch_failed:b")
        waits: list[float] = []
        report = dispatch(store, channels, settings, sleep=_no_sleep(waits))
    assert [o.status for o in report.outcomes] == ["sent", "failed"] and waits == []
    (deferred,) = store.escalations.deliveries.of(second)
    assert deferred.status == FAILED and deferred.last_error and deferred.last_error.startswith("http_429")
    assert deferred.next_attempt_at is not None
    assert deferred.next_attempt_at >= TEST_START + dt.timedelta(seconds=90)


def test_a_failing_channel_is_recorded_and_escalated_and_never_blocks_the_other(
    store: Store, slack: SlackTwin, telegram: TelegramTwin
) -> None:
    settings = _settings(telegram)
    channels = _channels(slack, telegram, settings)
    slack.settings.script("server_error", "unavailable", "server_error")
    number = _raise(store, "dead_letter", "dead_letter:2")
    waits: list[float] = []
    report = dispatch(store, channels, settings, sleep=_no_sleep(waits))
    by_channel = {o.channel: o for o in report.outcomes}
    assert by_channel["telegram"].status == "sent" and by_channel["slack"].status == "failed"
    assert waits == [1.0, 2.0]  # backoff between the three tries (no Retry-After given)
    (failed,) = [d for d in store.escalations.deliveries.of(number) if d.channel == "slack"]
    assert (
        failed.status == FAILED and failed.attempts == 3 and failed.last_error == "http_500: internal_error"
    )
    (alarm,) = [e for e in store.escalations.open() if e.kind == "alert_failed"]
    assert alarm.subject == "slack" and f"#{number}" in alarm.detail and "http_500" in alarm.detail
    assert slack.webhook_url not in alarm.detail and slack.secret not in (failed.last_error or "")
    # The other channel is told of the failing one; the failing one is not asked to post its own failure.
    later = dispatch(store, channels, settings, sleep=_no_sleep(waits))
    assert any(f"#{alarm.id}: an alert channel is failing" in t for t in telegram.texts())
    assert not any(f"#{alarm.id}" in t for t in slack.texts())
    assert all(o.escalation_id != number for o in later.outcomes)  # not due before its retry time

    assert isinstance(store.clock, ManualClock) and failed.next_attempt_at is not None
    store.clock.set(failed.next_attempt_at + dt.timedelta(seconds=1))  # the channel is back
    retried = dispatch(store, channels, settings, sleep=_no_sleep(waits))
    assert [(o.escalation_id, o.channel, o.status) for o in retried.outcomes] == [(number, "slack", "sent")]
    assert sum(f"Escalation #{number}:" in t for t in slack.texts()) == 1


def test_a_revoked_webhook_is_given_up_at_once_and_a_timeout_is_tried_again_later(
    store: Store, telegram: TelegramTwin, gtm_home: Path
) -> None:
    settings = _settings(telegram, timeout_s=0.3)
    revoked = build_channels(settings, slack_webhook_url=f"{telegram.url}/x", telegram_bot_token="1:wrong")
    number = _raise(store, "research_blocked", "research_blocked:1")
    waits: list[float] = []
    report = dispatch(store, revoked, settings, sleep=_no_sleep(waits))
    assert {o.channel: o.status for o in report.outcomes} == {"slack": "gave_up", "telegram": "gave_up"}
    statuses = {
        d.channel: (d.status, d.attempts, d.last_error) for d in store.escalations.deliveries.of(number)
    }
    assert statuses["telegram"] == (GAVE_UP, 1, "http_401: Unauthorized") and waits == []
    assert "1:wrong" not in json.dumps(statuses)

    only_slack = _settings(timeout_s=0.3)
    with SlackTwin(settings=TwinSettings(timeout_sleep_s=1.0)) as slow:
        slow.settings.script("timeout", "timeout", "timeout")
        other = _raise(store, "touch_uncertain", "touch_uncertain:1")
        outcome = dispatch(store, _channels(slow, None, only_slack), only_slack, sleep=_no_sleep(waits))
    # The first message of the pass met the three timeouts: kept for a later pass; the pass went on.
    timed_out, *rest = outcome.outcomes
    assert timed_out.status == "failed" and timed_out.detail == "timeout: over 0.3s"
    assert [o.status for o in rest] == ["sent"] * len(rest) and other in [o.escalation_id for o in rest]
    assert len(slow.messages) == len(rest)  # a request that timed out posted nothing


def test_a_pass_with_a_time_budget_starts_no_message_it_might_not_finish(
    store: Store, gtm_home: Path
) -> None:
    settings = _settings(timeout_s=0.2)
    numbers = [_raise(store, "touch_failed", f"touch_failed:{n}") for n in range(3)]
    with SlackTwin(settings=TwinSettings(timeout_sleep_s=0.5)) as slow:
        slow.settings.script("timeout", "timeout", "timeout")
        # The first message is always started (one try of 0.2 s: no wait fits in max_wait_s=0); a
        # second could take three timeouts (0.6 s) more, past the 0.7 s budget: it waits.
        report = dispatch(
            store,
            _channels(slow, None, settings),
            settings,
            budget_s=0.7,
            max_wait_s=0.0,
            sleep=lambda s: None,
        )
    assert report.stopped_early and [o.escalation_id for o in report.outcomes] == numbers[:1]
    assert {d.status for n in numbers[1:] for d in store.escalations.deliveries.of(n)} == {"pending"}
    assert "time budget spent" in report.summary()


# ---------------------------------------------------------------- two processes at once


def _worker(url: str, token: str, telegram_url: str, barrier: Any, results: Any) -> None:
    try:
        store = Store.open(load_settings().paths.database_url, clock=FixedClock(TEST_START))
        settings = AlertSettings(
            console_url=CONSOLE, telegram_chat_id=CHAT, telegram_api_url=telegram_url, max_per_pass=50
        )
        channels = build_channels(settings, slack_webhook_url=url, telegram_bot_token=token)
        barrier.wait(timeout=120)
        report = dispatch(store, channels, settings)
        store.close()
        results.put(("ok", [(o.escalation_id, o.channel, o.status) for o in report.outcomes]))
    except BaseException:
        barrier.abort()
        results.put(("error", traceback.format_exc()))


def test_two_processes_dispatching_at_once_post_each_escalation_once(store: Store) -> None:
    numbers = [_raise(store, "dead_letter", f"dead_letter:{n}") for n in range(12)]
    latency = TwinSettings(latency_s=0.02)
    with (
        SlackTwin(settings=latency) as slack,
        TelegramTwin(chats=(CHAT,), settings=TwinSettings(latency_s=0.02)) as tg,
    ):
        barrier, results = ctx.Barrier(2), ctx.Queue()
        workers = [
            ctx.Process(target=_worker, args=(slack.webhook_url, tg.token, tg.url, barrier, results))
            for _ in range(2)
        ]
        for process in workers:
            process.start()
        answers = [results.get(timeout=300) for _ in workers]
        for process in workers:
            process.join(timeout=60)
    errors = [detail for kind, detail in answers if kind == "error"]
    assert errors == [], "\n".join(errors)
    posted = [item for _kind, items in answers for item in items]
    assert sorted(posted) == sorted((n, c, "sent") for n in numbers for c in ("slack", "telegram"))
    for twin in (slack, tg):
        ids = [int(re.search(r"Escalation #(\d+)", text).group(1)) for text in twin.texts()]  # type: ignore[union-attr]
        assert sorted(ids) == numbers, f"{type(twin).__name__} got {sorted(ids)}"


# ---------------------------------------------------------------- overdue rights requests


def test_an_overdue_rights_request_escalates_by_itself_once_and_is_posted(
    store: Store, slack: SlackTwin
) -> None:
    request = record_request(store, kind="access", email=ADDRESS, now=TEST_START, response_days=30)
    done = record_request(store, kind="erasure", email=ADDRESS, now=TEST_START, response_days=30)
    store.privacy.complete_rights_request(done, outcome="erased", at=TEST_START + dt.timedelta(days=2))

    apply(store, [], TEST_START + dt.timedelta(days=29), pages=None)  # the hourly time rules, still in time
    assert [e for e in store.escalations.open() if e.kind == "rights_overdue"] == []
    for _tick in range(2):
        apply(store, [], TEST_START + dt.timedelta(days=31), pages=None)
    (overdue,) = [e for e in store.escalations.open() if e.kind == "rights_overdue"]
    assert overdue.subject == f"rights:{request}" and "access request" in overdue.detail
    assert ADDRESS not in overdue.detail

    settings = _settings()
    dispatch(store, _channels(slack, None, settings), settings)
    (text,) = slack.texts()
    assert f"rights request #{request}" in text and f"{CONSOLE}/rights" in text
    assert not ANY_ADDRESS.search(text)


# ---------------------------------------------------------------- the commands


class _Secrets(Secrets):  # the two keys the settings model carries for the channels
    slack_webhook_url: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None


class _Model(SettingsModel):
    alerts: AlertSettings = AlertSettings()
    secrets: _Secrets = _Secrets()


def test_gtm_alerts_test_and_send_against_the_twins(
    store: Store, slack: SlackTwin, telegram: TelegramTwin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gtm_pipeline.cli import alerts as command
    from gtm_pipeline.cli import app
    from gtm_pipeline.cli.common import CommandError

    runner = CliRunner()
    refused = runner.invoke(app, ["alerts", "send"])  # `gtm` prints a CommandError as one line, exit 2
    assert isinstance(refused.exception, CommandError) and refused.exception.code == 2
    assert "no alert channel is configured" in str(refused.exception)

    loaded = load_settings()
    model = _Model(
        alerts=_settings(telegram),
        secrets=_Secrets(slack_webhook_url=slack.webhook_url, telegram_bot_token=telegram.token),
    )
    monkeypatch.setattr(command, "settings", lambda: dataclasses.replace(loaded, model=model))
    tested = runner.invoke(app, ["alerts", "test", "--json"])
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.output[tested.output.index("{") :]) == {
        "slack": "posted (1 request(s))",
        "telegram": "posted (1 request(s))",
    }
    assert "test alert" in slack.texts()[0] and "test alert" in telegram.texts()[0]

    number = _raise(store, "spend_cap", "spend_cap:polish:1", subject="polish")
    sent = runner.invoke(app, ["alerts", "send"])
    assert sent.exit_code == 0, sent.output
    assert f"#{number} spend_cap raised -> slack: sent" in sent.output
    assert f"#{number} spend_cap raised -> telegram: sent" in sent.output
    assert runner.invoke(app, ["alerts", "send"]).output.count("-> slack") == 0  # once

    telegram.settings.script("server_error", "server_error", "server_error")
    broken = runner.invoke(app, ["alerts", "test"])
    assert broken.exit_code == 1 and "telegram: failed: http_500" in broken.output


# ---------------------------------------------------------------- the Dagster sensor


def test_the_sensor_posts_new_escalations_once_and_says_so_on_its_tick(
    store: Store, slack: SlackTwin, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from gtm_pipeline.defs.audit import alerts as sensor_module
    from gtm_pipeline.defs.resources import gtm_resource

    resources = {"gtm": gtm_resource(load_settings())}
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            idle = sensor_module.escalation_alerts(context)
        assert isinstance(idle, dg.SkipReason) and "no alert channel is configured" in str(idle.skip_message)

        # The channels as the settings describe them once a webhook is set (the twin's, here).
        monkeypatch.setattr(
            sensor_module,
            "channels_from_settings",
            lambda settings: build_channels(
                settings.alerts, slack_webhook_url=slack.webhook_url, telegram_bot_token=None
            ),
        )
        number = _raise(store, "missing_partition", "missing_partition:s:1")
        said = []
        for _tick in range(2):
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                tick = sensor_module.escalation_alerts(context)
            assert isinstance(tick, dg.SkipReason)
            said.append(str(tick.skip_message))
    assert said[0].startswith("alerts: 1 sent") and said[1].startswith("alerts: nothing to post")
    assert [f"Escalation #{number}:" in text for text in slack.texts()] == [True]


def test_an_unforeseen_failure_is_recorded_on_its_row_without_its_text_and_tried_again(
    store: Store, slack: SlackTwin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a PostFailed (a bug in composing, an answer nobody foresaw): the row is failed with the
    error's type only (its text may hold the webhook URL), escalated, and posted by a later pass;
    never left claimed for a lease, never the end of the pass."""
    import gtm_pipeline.alerts.dispatch as dispatching

    settings = _settings()
    channels = _channels(slack, None, settings)
    first = _raise(store, "dead_letter", "dead_letter:x")
    second = _raise(store, "dead_letter", "dead_letter:y")
    real_compose = dispatching.compose
    calls: list[int] = []

    def compose_once_broken(store: Store, escalation: Any, **kw: Any) -> Any:
        calls.append(escalation.id)
        if escalation.id == first and calls.count(first) == 1:
            raise RuntimeError(f"cannot reach {slack.webhook_url}")
        return real_compose(store, escalation, **kw)

    monkeypatch.setattr(dispatching, "compose", compose_once_broken)
    report = dispatch(store, channels, settings, sleep=_no_sleep([]))
    assert [(o.escalation_id, o.status) for o in report.outcomes] == [(first, "failed"), (second, "sent")]
    (broken,) = store.escalations.deliveries.of(first)
    assert broken.status == FAILED and broken.last_error == "unexpected RuntimeError"
    assert all(slack.webhook_url not in (e.detail or "") for e in store.escalations.open())
    assert any(e.kind == "alert_failed" for e in store.escalations.open())
    store.clock.set(TEST_START + dt.timedelta(minutes=6))  # type: ignore[attr-defined]
    later = dispatch(store, channels, settings, sleep=_no_sleep([]))
    assert (first, "sent") in [(o.escalation_id, o.status) for o in later.outcomes]


def test_a_row_left_sending_by_a_dead_pass_is_closed_once_acknowledged(
    store: Store, slack: SlackTwin
) -> None:
    """A pass that died after claiming leaves the row ``sending``; once the escalation is
    acknowledged it can never be claimed again, so it is closed (saying the pass never told
    whether it posted) instead of holding a place in every later pass."""
    settings = _settings()
    number = _raise(store, "dead_letter", "dead_letter:z")
    deliveries = store.escalations.deliveries
    deliveries.enqueue(["slack"], mute=(), resolved=False, limit=20)
    (row,) = deliveries.of(number)
    assert deliveries.claim(row.id, "a-pass-that-dies") is not None
    store.escalations.acknowledge(number, actor="operator:ana")
    assert deliveries.close_acknowledged() == 0  # within its lease: that pass may still be posting
    store.clock.set(TEST_START + dt.timedelta(minutes=30))  # type: ignore[attr-defined]
    assert deliveries.close_acknowledged() == 1
    (closed,) = deliveries.of(number)
    assert closed.status == CLOSED and "without saying whether it posted" in (closed.last_error or "")
    assert dispatch(store, _channels(slack, None, settings), settings).outcomes == []


def test_every_escalation_kind_is_put_in_words_for_the_operator() -> None:
    from gtm_pipeline.alerts.message import KIND_WORDS
    from gtm_pipeline.store.escalations import KINDS

    assert set(KIND_WORDS) == set(KINDS)
