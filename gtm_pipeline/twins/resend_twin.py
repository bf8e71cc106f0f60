"""A digital twin of the Resend API and of the people on the other end of the mail.

Speaks enough of Resend for the official ``resend`` SDK (pointed at it by
``RESEND_API_URL``): send and batch send with ``Idempotency-Key`` semantics (same key and
same payload: the original answer and no second email; same key, other payload: 409
``invalid_idempotent_request``; the same key while its first request is still in flight: 409
``concurrent_idempotent_requests``; a key is kept 24 hours, by the twin's clock, then forgotten),
``GET /emails/{id}``, the received-emails API, 401 for a wrong key, 429 with
``retry-after`` under its rate limit, and scripted faults (500/503, and
``accept_then_fail``: the email is accepted, then the answer is lost).

After each accepted email it plays the recipient - silent, replying (interested, a
question, not now, not a fit, unsubscribe, a referral), out of office, bouncing (hard or
soft) or complaining - and delivers Resend's webhooks to the receiver, Svix-signed, with
optional duplicates and out-of-order delivery, retrying on non-2xx like Svix does. A
whole campaign can be rehearsed against it before going live.

One module on purpose (over 400 lines): the API, its idempotency store and the simulated
recipients share one lock and one queue of deliveries, and the faithfulness of each depends on
the others (an email accepted twice would also be answered twice).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.twins.server import TwinRequest, TwinServer, TwinSettings

BEHAVIOURS = (
    "silent",
    "interested",
    "question",
    "not-now",
    "not-a-fit",
    "unsubscribe",
    "referral",
    "ooo",
    "bounce",
    "soft-bounce",
    "complain",
)
REPLIES = {
    "interested": "Thanks for reaching out - this is timely for us. Happy to set up a call next week.",
    "question": "How would this work with our existing audit tooling?",
    "not-now": (
        "Not a priority right now, we are mid-migration. "
        "Circle back in Q3, once we have hired a compliance lead."
    ),
    "not-a-fit": "We built this in-house already, so it is not a fit for us.",
    "unsubscribe": "Please remove me from your list. Do not contact me again.",
    "referral": "I am not the right person. You should talk to our compliance lead, kim@{domain}.",
}
_JSON = {"content-type": "application/json"}
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)  # how long Resend keeps a key
_WALL = SystemClock()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """A Svix ``v1`` signature (what Resend's webhook sender computes)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _reply(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return status, {**_JSON, **(headers or {})}, json.dumps(payload).encode()


def _error(
    status: int, name: str, message: str, retry_after: float | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"retry-after": str(max(1, round(retry_after)))} if retry_after is not None else {}
    return _reply(status, {"statusCode": status, "name": name, "message": message}, headers)


@dataclass
class WebhookTarget:
    url: str
    secret: str
    duplicates: int = 1
    reorder: bool = False


@dataclass
class _Delivery:
    msg_id: str
    body: str
    attempts: int = 0


@dataclass
class ResendTwin:
    """The twin: start with ``with ResendTwin(...) as twin:`` and use ``twin.url``."""

    api_key: str = "re_twin_test_key"
    settings: TwinSettings = field(default_factory=TwinSettings)
    webhook: WebhookTarget | None = None
    default_behaviour: str = "silent"
    behaviours: dict[str, str] = field(default_factory=dict)
    ooo_return: dt.date | None = None  # default: ten days after the auto-reply
    # The recipients' clock: the dates they write in replies (a rehearsal moves it day by day).
    # Svix signatures always carry the wall time, because the SDK verifies against the wall clock.
    clock: Clock = field(default_factory=SystemClock)

    def __post_init__(self) -> None:
        self.settings.expected_key = self.api_key
        self.emails: dict[str, dict[str, Any]] = {}
        self.received: dict[str, dict[str, Any]] = {}
        # key -> (payload digest, first answer, when the first request came)
        self.idempotency: dict[str, tuple[str, dict[str, Any], dt.datetime]] = {}
        self._in_flight: set[str] = set()
        self.deliveries_attempted = 0
        self.deliveries_failed = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._outgoing: queue.Queue[_Delivery | None] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Condition()
        self.server = TwinServer(
            {
                ("POST", "/emails"): self._send,
                ("POST", "/emails/batch"): self._batch,
                ("GET", "/emails/*"): self._get_email,
                ("GET", "/emails/receiving/*"): self._get_received,
            },
            self.settings,
        )
        self._worker = threading.Thread(target=self._deliver_loop, daemon=True)

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> ResendTwin:
        self.server.__enter__()
        self._worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._outgoing.put(None)
        self.server.__exit__(*exc)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued webhook has been delivered (or given up on)."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} webhook deliveries still pending")
                self._pending_lock.wait(left)

    def sent_to(self, address: str) -> list[dict[str, Any]]:
        """Every email actually accepted for ``address`` (what the recipient would see)."""
        return [e for e in self.emails.values() if address in e["to"]]

    # ------------------------------------------------------------ API

    def _auth(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes] | None:
        header = request.headers.get("authorization", "")
        if not header:
            return _error(401, "missing_api_key", "Missing API key in the authorization header")
        if header != f"Bearer {self.api_key}":
            return _error(403, "invalid_api_key", "API key is invalid")
        return None

    def _fault(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes] | None:
        if request.fault == "rate_limit":
            return _error(429, "rate_limit_exceeded", "Too many requests", request.retry_after_s)
        if request.fault == "server_error":
            return _error(500, "internal_server_error", "Something went wrong")
        if request.fault in ("unavailable", "overloaded"):
            return _error(503, "service_unavailable", "Service unavailable")
        return None

    def _validate(self, params: dict[str, Any]) -> str | None:
        for name in ("from", "to", "subject"):
            if not params.get(name):
                return f"Missing `{name}` field."
        to = params["to"] if isinstance(params["to"], list) else [params["to"]]
        if len(to) > 50:
            return "Too many recipients (max 50)."
        return None

    def _accept(self, params: dict[str, Any]) -> dict[str, Any]:
        email_id = f"em_{next(self._ids):06d}"
        to = params["to"] if isinstance(params["to"], list) else [params["to"]]
        record = {**params, "to": to, "id": email_id, "created_at": self.clock.now().isoformat()}
        with self._lock:
            self.emails[email_id] = record
        self._play_recipients(record)
        return {"id": email_id}

    def _idempotent(
        self, key: str | None, body: bytes, make: Any
    ) -> tuple[int, dict[str, str], bytes] | tuple[dict[str, Any], bool]:
        if not key:
            return make(), True
        if not 1 <= len(key) <= 256:
            return _error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
        digest = hashlib.sha256(body).hexdigest()
        # One decision per key under the lock, as Resend makes it: a finished key is replayed (or
        # refused for another payload), a key still in flight is refused, a new key is claimed. A
        # key older than the window is forgotten: the same request then sends a new email.
        with self._lock:
            now = self.clock.now()
            known = self.idempotency.get(key)
            if known is not None and now - known[2] >= IDEMPOTENCY_WINDOW:
                del self.idempotency[key]
                known = None
            in_flight = key in self._in_flight
            if known is None and not in_flight:
                self._in_flight.add(key)
        if known is not None:
            if known[0] != digest:
                return _error(
                    409, "invalid_idempotent_request", "Same idempotency key used with a different payload."
                )
            return known[1], False
        if in_flight:
            return _error(
                409,
                "concurrent_idempotent_requests",
                "Same idempotency key used while a request is in progress.",
            )
        try:
            response = make()
            with self._lock:
                self.idempotency[key] = (digest, response, now)
        finally:
            with self._lock:
                self._in_flight.discard(key)
        return response, True

    def _send(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        denied = self._auth(request) or self._fault(request)
        if denied is not None:
            return denied
        try:
            params = request.json()
        except json.JSONDecodeError:
            return _error(422, "validation_error", "Invalid JSON body")
        problem = self._validate(params)
        if problem:
            return _error(422, "validation_error", problem)
        outcome = self._idempotent(
            request.headers.get("idempotency-key"), request.body, lambda: self._accept(params)
        )
        if len(outcome) == 3:
            return outcome
        response = outcome[0]
        if request.fault == "accept_then_fail":
            return _error(500, "internal_server_error", "The answer was lost after the email was accepted")
        return _reply(200, response)

    def _batch(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        denied = self._auth(request) or self._fault(request)
        if denied is not None:
            return denied
        try:
            batch = request.json()
        except json.JSONDecodeError:
            return _error(422, "validation_error", "Invalid JSON body")
        if not isinstance(batch, list) or not 1 <= len(batch) <= 100:
            return _error(422, "validation_error", "A batch holds 1 to 100 emails.")
        problems = [p for p in (self._validate(params) for params in batch) if p]
        if problems:
            return _error(422, "validation_error", problems[0])  # strict mode: all or nothing
        outcome = self._idempotent(
            request.headers.get("idempotency-key"),
            request.body,
            lambda: {"data": [self._accept(params) for params in batch]},
        )
        if len(outcome) == 3:
            return outcome
        return _reply(200, outcome[0])

    def _get_email(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        denied = self._auth(request)
        if denied is not None:
            return denied
        email = self.emails.get(request.path.rsplit("/", 1)[1])
        if email is None:
            return _error(404, "not_found", "Email not found")
        return _reply(200, {"object": "email", **email})

    def _get_received(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        denied = self._auth(request) or self._fault(request)
        if denied is not None:
            return denied
        email = self.received.get(request.path.split("?")[0].rsplit("/", 1)[1])
        if email is None:
            return _error(404, "not_found", "Email not found")
        return _reply(200, {"object": "email", **email})

    # ------------------------------------------------------------ the recipients

    def behaviour(self, address: str) -> str:
        if address in self.behaviours:
            return self.behaviours[address]
        local = address.split("@", 1)[0].split("+", 1)[0]
        return next(
            (b for b in BEHAVIOURS if local == b or local.startswith(f"{b}.")), self.default_behaviour
        )

    def _event(self, kind: str, email: dict[str, Any], **extra: Any) -> dict[str, Any]:
        tags = {t["name"]: t["value"] for t in email.get("tags", [])}
        return {
            "type": kind,
            "created_at": self.clock.now().isoformat(),
            "data": {
                "email_id": email["id"],
                "created_at": email["created_at"],
                "from": email["from"],
                "to": email["to"],
                "subject": email["subject"],
                "tags": tags,
                **extra,
            },
        }

    def _inbound(self, email: dict[str, Any], sender: str, text: str, auto: bool) -> dict[str, Any]:
        received_id = f"rcv_{next(self._ids):06d}"
        sent_id = email.get("headers", {}).get("Message-ID", f"<{email['id']}@twin.resend>")
        headers = {
            "message-id": f"<{received_id}@{sender.split('@')[1]}>",
            "in-reply-to": sent_id,
            "references": sent_id,
            "date": self.clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000"),
        }
        subject = "Re: " + email["subject"].removeprefix("Re: ")
        if auto:
            headers["auto-submitted"] = "auto-replied"
            subject = f"Automatic reply: {email['subject']}"
        quoted = "\n".join(f"> {line}" for line in str(email.get("text", "")).splitlines())
        body = f"{text}\n\nOn {headers['date']}, {email['from']} wrote:\n{quoted}\n"
        to = [email.get("reply_to") or email["from"]]
        record = {
            "id": received_id,
            "from": sender,
            "to": to,
            "subject": subject,
            "text": body,
            "html": None,
            "headers": headers,
            "message_id": headers["message-id"],
            "created_at": self.clock.now().isoformat(),
            "attachments": [],
        }
        with self._lock:
            self.received[received_id] = record
        return {
            "type": "email.received",
            "created_at": record["created_at"],
            "data": {
                "email_id": received_id,
                "created_at": record["created_at"],
                "from": sender,
                "to": to,
                "subject": subject,
                "message_id": headers["message-id"],
                "attachments": [],
            },
        }

    def _play_recipients(self, email: dict[str, Any]) -> None:
        events = [self._event("email.sent", email)]
        for address in email["to"]:
            kind = self.behaviour(address)
            domain = address.split("@", 1)[1]
            if kind == "bounce":
                events.append(
                    self._event(
                        "email.bounced",
                        email,
                        bounce={
                            "type": "Permanent",
                            "subType": "General",
                            "message": "550 5.1.1 user unknown",
                        },
                    )
                )
                continue
            if kind == "soft-bounce":
                events.append(self._event("email.delivery_delayed", email))
            events.append(self._event("email.delivered", email))
            if kind == "complain":
                events.append(self._event("email.complained", email))
            elif kind == "ooo":
                back = self.ooo_return or self.clock.now().date() + dt.timedelta(days=10)
                text = f"I am out of the office until {back:%B} {back.day}, {back.year}."
                events.append(self._inbound(email, address, text, auto=True))
            elif kind in REPLIES:
                events.append(self._inbound(email, address, REPLIES[kind].format(domain=domain), auto=False))
        target = self.webhook
        if target is None:
            return
        if target.reorder:
            events.reverse()
        for event in events:
            body = json.dumps(event)
            msg_id = f"msg_{hashlib.sha256(body.encode()).hexdigest()[:20]}"
            for _ in range(max(1, target.duplicates)):
                with self._pending_lock:
                    self._pending += 1
                self._outgoing.put(_Delivery(msg_id, body))

    # ------------------------------------------------------------ webhook delivery

    def _post(self, delivery: _Delivery) -> bool:
        target = self.webhook
        assert target is not None
        timestamp = int(_WALL.now().timestamp())
        request = urllib.request.Request(
            target.url,
            data=delivery.body.encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "svix-id": delivery.msg_id,
                "svix-timestamp": str(timestamp),
                "svix-signature": sign(target.secret, delivery.msg_id, timestamp, delivery.body),
            },
        )
        self.deliveries_attempted += 1
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return False

    def _deliver_loop(self) -> None:
        while True:
            delivery = self._outgoing.get()
            if delivery is None:
                return
            ok = False
            for attempt in range(6):  # Svix retries on non-2xx (compressed schedule)
                if self._post(delivery):
                    ok = True
                    break
                time.sleep(0.05 * 2**attempt)
            if not ok:
                self.deliveries_failed += 1
            with self._pending_lock:
                self._pending -= 1
                self._pending_lock.notify_all()
