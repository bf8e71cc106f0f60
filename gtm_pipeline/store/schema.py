"""Tables of the store (SQLAlchemy Core).

Personal data lives only in the columns marked PII below and in artifact ``content``;
everything else (ids, hashes, states, timestamps, decision metadata) is what an erasure
keeps. Migrations in ``migrations/versions`` create these tables; keep the two in step.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

hypotheses = sa.Table(
    "hypotheses",
    metadata,
    sa.Column("slug", sa.String(64), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

prospects = sa.Table(
    "prospects",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("hypothesis_slug", sa.String(64), nullable=False, index=True),
    sa.Column("company_domain", sa.String(255), nullable=False, unique=True),
    sa.Column("company_name", sa.Text, nullable=False),
    sa.Column("contact_name", sa.Text),  # PII
    sa.Column("contact_email", sa.Text),  # PII
    sa.Column("contact_role", sa.Text),  # PII
    sa.Column("contact_email_hash", sa.String(40), index=True),
    sa.Column("contact_timezone", sa.String(64)),
    sa.Column("state", sa.String(32), nullable=False, index=True),
    sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("erased_at", sa.DateTime(timezone=True)),
    # The journal row (journal.id) that moved the prospect into its current state: sensors'
    # cursors are one integer over it ("entered state S after row N").
    sa.Column("state_entry", sa.Integer),
    sa.Index("ix_prospects_state_entry", "state", "state_entry"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("prospect_id", sa.String(32), sa.ForeignKey("prospects.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source_id", sa.String(200)),
    sa.Column("url", sa.Text),
    sa.Column("source_kind", sa.String(32)),
    sa.Column("published_on", sa.Date),
    sa.Column("content", sa.Text),  # PII possible; removed by a tombstone
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("meta", sa.JSON, nullable=False, default=dict),
    sa.Column("journal_entry_id", sa.String(40)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
    sa.Index("ix_artifacts_prospect_kind", "prospect_id", "kind", "created_at"),
)

journal = sa.Table(
    "journal",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.String(40), nullable=False, unique=True),
    sa.Column("subject", sa.String(80), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Column("dedupe_key", sa.String(300), unique=True),
    sa.Column("run_id", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("subject", "seq", name="uq_journal_subject_seq"),
)

review_queue = sa.Table(
    "review_queue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prospect_id", sa.String(32), sa.ForeignKey("prospects.id"), nullable=False, index=True),
    sa.Column("artifact_id", sa.String(40), sa.ForeignKey("artifacts.id"), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.String(80)),
    sa.Column("reason", sa.Text),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prospect_id", sa.String(32), index=True),
    sa.Column("skill", sa.String(80), nullable=False),
    sa.Column("skill_version", sa.String(32), nullable=False),
    sa.Column("group_name", sa.String(80), nullable=False),
    sa.Column("input_hash", sa.String(64), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("reason_kind", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw_output", sa.Text),  # may quote sources; removed by a tombstone
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("prospect_id", "skill", "skill_version", "input_hash", name="uq_dead_letter_input"),
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    # "e_<hash>" for a normalized email, "p_<id>" for a prospect account: never the address itself
    sa.Column("identity", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("journal_entry_id", sa.String(40)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

rights_requests = sa.Table(
    "rights_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # access | correction | erasure | grievance
    sa.Column("subject_hash", sa.String(40), nullable=False, index=True),
    sa.Column("prospect_id", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # open | completed
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.Text),  # no personal data: counts and ids
)

spend = sa.Table(
    "spend",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("group_name", sa.String(80), primary_key=True),
    sa.Column("provider", sa.String(40), primary_key=True),
    sa.Column("model", sa.String(120), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("input_tokens", sa.Integer, nullable=False),
    sa.Column("output_tokens", sa.Integer, nullable=False),
    sa.Column("cache_read_tokens", sa.Integer, nullable=False),
    sa.Column("cache_write_tokens", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    # One row per touch, written *before* the provider is called: the send ledger.
    sa.Column("touch_id", sa.String(40), primary_key=True),
    sa.Column("prospect_id", sa.String(32), sa.ForeignKey("prospects.id"), nullable=False, index=True),
    sa.Column("touch_number", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(256), nullable=False, unique=True),
    sa.Column("message_id", sa.String(200), nullable=False, unique=True),
    sa.Column("artifact_id", sa.String(40), nullable=False),
    sa.Column("mailbox", sa.String(320), nullable=False),
    sa.Column("sending_domain", sa.String(255), nullable=False, index=True),
    sa.Column("to_hash", sa.String(40), nullable=False, index=True),
    sa.Column("payload", sa.JSON),  # PII: the exact request; removed by a tombstone
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("provider_email_id", sa.String(80), index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("bounced_at", sa.DateTime(timezone=True)),
    sa.Column("complained_at", sa.DateTime(timezone=True)),
    sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
    # The send pass that holds the touch while its status is ``sending`` (see ``claim_touch``).
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("prospect_id", "touch_number", name="uq_outbox_touch"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    # Every provider event and one-click unsubscribe, stored once (keyed by svix-id) before 2xx.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_key", sa.String(200), nullable=False, unique=True),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("prospect_id", sa.String(32), index=True),
    sa.Column("touch_id", sa.String(40)),
    sa.Column("provider_email_id", sa.String(80)),
    sa.Column("payload", sa.JSON, nullable=False),  # PII (addresses); removed by a tombstone
    sa.Column("raw_message", sa.Text),  # PII: a fetched reply; removed by a tombstone
    # new | processing (claimed by a pass) | processed | unmatched
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("outcome", sa.JSON),  # category, rule, event: no personal data
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True)),
    sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
    # The inbox pass that holds the event while its status is ``processing`` (see ``claim_event``).
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    # Postgres: the id of the transaction that stored the row (its default there is
    # ``pg_current_xact_id()``, set by migration 0017), so the inbox sensor reads rows in commit order
    # (``Inbox.events_after``). SQLite, and rows stored before 0017: 0.
    sa.Column("commit_order", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_inbox_commit_order", "commit_order", "id"),
)

escalations = sa.Table(
    "escalations",
    metadata,
    # What failed and waits for an operator: a failed run, a dead letter, a halted domain, an open
    # circuit, a spend cap, a touch that failed or is uncertain, an inbound event that matched nothing.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False, index=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),  # one escalation per cause
    sa.Column("subject", sa.String(200)),  # a prospect id, a domain, a run id: never personal data
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("acknowledged_at", sa.DateTime(timezone=True), index=True),
    sa.Column("acknowledged_by", sa.String(80)),
)

contacts = sa.Table(
    "contacts",
    metadata,
    # The people at a prospect's company that an import or the company's own pages named. The
    # prospect's addressee is copied onto ``prospects``; the others wait here for manual channels.
    sa.Column("id", sa.String(40), primary_key=True),  # hash of prospect id + email (or name)
    sa.Column("prospect_id", sa.String(32), sa.ForeignKey("prospects.id"), nullable=False, index=True),
    sa.Column("name", sa.Text),  # PII
    sa.Column("title", sa.Text),  # PII
    sa.Column("email", sa.Text),  # PII
    sa.Column("email_hash", sa.String(40), index=True),
    sa.Column("flags", sa.JSON, nullable=False),  # role, free_mail, undeliverable …: no personal data
    sa.Column("source_kind", sa.String(16), nullable=False),  # import | page
    sa.Column("source", sa.Text),  # file name or page URL, named in the first-touch notice
    sa.Column("source_hash", sa.String(64), nullable=False),  # the row hash or the page's content hash
    sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
)

imports = sa.Table(
    "imports",
    metadata,
    # One row per list imported: what came in, what merged, what was skipped and why (no PII:
    # lines and reasons, the file's name and hash).
    sa.Column("id", sa.String(40), primary_key=True),  # hash of file content + hypothesis
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("hypothesis_slug", sa.String(64), nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
)

source_answers = sa.Table(
    "source_answers",
    metadata,
    # A discovery source's answer to one query, reused inside the cache window instead of paying
    # again. Hits quote public pages, which can name people: an erasure empties the table.
    sa.Column("id", sa.String(64), primary_key=True),  # hash of source, query kind, text and window
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("query_kind", sa.String(16), nullable=False),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("hits", sa.JSON, nullable=False),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    # One login to the console. The cookie carries the id (signed); a session counts only while its
    # row is here and not ended, so logging out (one, or everywhere) ends it for every process.
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the random session id
    sa.Column("operator", sa.String(80), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("ended_why", sa.String(40)),  # logout, logout_everywhere
)

console_login_failures = sa.Table(
    "console_login_failures",
    metadata,
    # A wrong password, by client (a hash of its address): logins pause for that client only, so
    # someone guessing from one address cannot lock the operator out from another.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_console_login_failures_client", "client", "failed_at"),
)

rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    # A provider's client-side rate, shared by every process (runs, sensors, the CLI): ``tat`` is
    # the bucket's theoretical arrival time (GCRA), in seconds of the machine's wall clock.
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("tat", sa.Float, nullable=False),
)

# The console board's indexes (migration 0018): each filter of the board (state, hypothesis, both or
# none; age is a range on state_since) finds its page in index order and picks the page's ids from
# the index alone however deep the page; counts by state under a hypothesis read an index alone;
# the week's fetch refusals and discovery rejections are a range of a few journal kinds.
sa.Index("ix_prospects_state_since", prospects.c.state, prospects.c.state_since, prospects.c.id)
sa.Index("ix_prospects_since", prospects.c.state_since, prospects.c.id)
sa.Index(
    "ix_prospects_hypothesis_since", prospects.c.hypothesis_slug, prospects.c.state_since, prospects.c.id
)
sa.Index(
    "ix_prospects_hypothesis_state",
    prospects.c.hypothesis_slug,
    prospects.c.state,
    prospects.c.state_since,
    prospects.c.id,
)
sa.Index("ix_journal_kind_created", journal.c.kind, journal.c.created_at)
