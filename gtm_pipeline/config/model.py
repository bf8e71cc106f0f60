"""The settings model: every value the pipeline can be configured with, its default, its
environment variable and what it is for.

One model, read by one loader (:mod:`gtm_pipeline.config.loading`), so a value has one name,
one type and one documented meaning everywhere: the ``gtm.toml`` that ``gtm init`` writes is
generated from these fields and their descriptions, and ``gtm config show`` prints them with
their origin. Secrets are a separate section that only the environment or the secrets file may
fill: a secret in ``gtm.toml`` (which is meant to be committed) stops loading.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from gtm_pipeline.config.alerts import AlertSettings
from gtm_pipeline.config.crm import CrmSettings
from gtm_pipeline.config.fields import setting
from gtm_pipeline.config.meetings import MeetingSettings

NVIDIA_BASE_URL = "https://integrate.api.nvidia.com/v1"
NEMOTRON = "nvidia/nemotron-3-super-120b-a12b"
CLAUDE = "claude-sonnet-4-6"
MAX_RESPONSE_DAYS = 90  # DPDP Rules: a published response period not exceeding ninety days

DEFAULT_FROM = "Alex Morgan <alex@mail.northwind-advisory.example>"
DEFAULT_SIGNATURE = "Best regards,\nAlex Morgan\nNorthwind Advisory (demo sender)"
DEFAULT_NOTICE = (
    "Why you are getting this: we found your work email on {source} while researching {company}, "
    "and we write to you only about this business topic. {sender_company} processes your work contact "
    "details for B2B outreach (legitimate interest). To object or to have your data erased, reply "
    '"remove me" or use {unsubscribe_url} - it takes effect at once. Grievances: {privacy_contact}.'
)


def mailbox_of(from_address: str) -> str:
    """The address of a From header (``Name <you@mail.example>`` -> ``you@mail.example``), lower case."""
    return parseaddr(from_address)[1].lower()


class Section(BaseModel):
    """A table of ``gtm.toml``: unknown keys are refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PathSettings(Section):
    """Where things live. Relative paths in gtm.toml are relative to the workspace folder."""

    home: str = setting("data", "GTM_HOME", doc="All local state: the store, Dagster's instance, keys.")
    database_url: str | None = setting(
        None,
        "GTM_DATABASE_URL",
        doc="The store. Default: SQLite in home. Postgres: postgresql+psycopg://user@host/db",
    )
    dagster_home: str | None = setting(None, "DAGSTER_HOME", doc="Dagster's instance. Default: home/dagster.")
    skills: str | None = setting(
        None, "GTM_SKILLS_DIR", doc="Skill groups and SKILL.md files. Default: skills/ (bundled in a demo)."
    )
    hypotheses: str | None = setting(
        None, "GTM_HYPOTHESES_DIR", doc="Hypothesis files. Default: hypotheses/ (bundled in a demo)."
    )
    corpus: str | None = setting(None, "GTM_CORPUS_DIR", doc="The offline sample corpus. Default: bundled.")
    accounts: str | None = setting(
        None,
        "GTM_ACCOUNTS_FILE",
        doc="Customers, open deals, partners (never contacted cold). Default: home/accounts.csv.",
    )
    prices: str | None = setting(None, "GTM_PRICES_FILE", doc="Prices per model. Default: bundled.")
    secrets_file: str | None = setting(
        None,
        "GTM_SECRETS_FILE",
        doc="KEY=value lines for secrets (chmod 600). Default: secrets.env in the workspace.",
    )


class SenderSettings(Section):
    """Who writes, and what every first touch says about where the data came from."""

    from_address: str = setting(DEFAULT_FROM, "GTM_FROM", doc="The From of every email (a verified domain).")
    reply_to: str = setting(
        "replies@inbound.northwind-advisory.example",
        "GTM_REPLY_TO",
        doc="Where replies go: an address on your Resend receiving subdomain.",
    )
    company: str = setting("Northwind Advisory", "GTM_SENDER_COMPANY", doc="Named in the notice.")
    privacy_contact: str = setting(
        "privacy@northwind-advisory.example", "GTM_PRIVACY_CONTACT", doc="Where grievances go."
    )
    signature: str = setting(
        DEFAULT_SIGNATURE, "GTM_SENDER_SIGNATURE", doc="How drafts are signed.", lines=True
    )
    domains: list[str] = setting(
        ["northwind-advisory.example"],
        "GTM_SENDER_DOMAINS",
        doc="Your own domains: the only links a draft may carry, besides the prospect's site.",
        csv=True,
    )
    notice: str = setting(
        DEFAULT_NOTICE,
        "GTM_NOTICE_TEXT",
        doc="The first-touch notice (DPDP; GDPR Art. 14 and 21), with its {placeholders}.",
    )
    public_url: str = setting(
        "http://127.0.0.1:8025", "GTM_PUBLIC_URL", doc="Public base URL of `gtm serve` (unsubscribe links)."
    )
    unsubscribe_mailto: str = setting(
        "unsubscribe@inbound.northwind-advisory.example",
        "GTM_UNSUBSCRIBE_MAILTO",
        doc="The mailto: of the List-Unsubscribe header.",
    )

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("from_address")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError('a From such as "Name <you@mail.yourdomain.com>"')
        return value

    @property
    def sending_domain(self) -> str:
        """The domain mail goes out from (the From address's)."""
        return mailbox_of(self.from_address).rsplit("@", 1)[1]


class SendingLimits(Section):
    """How much, when, and when to stop on its own."""

    mailbox_daily_cap: int = setting(30, "GTM_MAILBOX_DAILY_CAP", doc="Sends per mailbox per day, at most.")
    domain_daily_cap: int = setting(90, "GTM_DOMAIN_DAILY_CAP", doc="Sends per sending domain per day.")
    warmup_start: int = setting(5, "GTM_WARMUP_START", doc="Warm-up: sends on the first day ...")
    warmup_step: int = setting(3, "GTM_WARMUP_STEP", doc="... and how many more each day after.")
    window_start_hour: int = setting(9, "GTM_SEND_WINDOW_START", doc="Recipient-local hour sends may start.")
    window_end_hour: int = setting(17, "GTM_SEND_WINDOW_END", doc="Recipient-local hour sends stop.")
    weekdays_only: bool = setting(True, "GTM_SEND_WEEKDAYS_ONLY", doc="Never on a recipient's weekend.")
    default_timezone: str = setting("UTC", "GTM_DEFAULT_TIMEZONE", doc="When a contact's zone is unknown.")
    min_spacing_hours: int = setting(
        72, "GTM_MIN_SPACING_HOURS", doc="Hours between two touches to a company."
    )
    bounce_halt_rate: float = setting(0.02, "GTM_BOUNCE_HALT_RATE", doc="Halt above this bounce rate.")
    complaint_halt_rate: float = setting(0.0005, "GTM_COMPLAINT_HALT_RATE", doc="Halt above this rate.")
    health_window: int = setting(200, "GTM_HEALTH_WINDOW", doc="Sends the halt rates are measured over.")
    health_min_sends: int = setting(20, "GTM_HEALTH_MIN_SENDS", doc="Sends before a rate can halt sending.")
    resend_api_url: str = setting(
        "https://api.resend.com", "RESEND_API_URL", doc="Resend's API (a twin's URL in rehearsals)."
    )

    @field_validator("window_start_hour", "window_end_hour")
    @classmethod
    def _hour(cls, value: int) -> int:
        if not 0 <= value <= 24:
            raise ValueError("an hour is 0..24")
        return value


class BulkProvider(Section):
    """The bulk family: an OpenAI-compatible endpoint (NVIDIA's API catalog, vLLM, Ollama)."""

    base_url: str = setting(NVIDIA_BASE_URL, "GTM_BULK_BASE_URL", doc="The endpoint, with /v1.")
    model: str = setting(NEMOTRON, "GTM_BULK_MODEL", doc="The served model name.")
    reasoning: bool = setting(False, "GTM_BULK_REASONING", doc="Nemotron's enable_thinking switch.")
    timeout_s: float = setting(60.0, "GTM_BULK_TIMEOUT", doc="Seconds before a call times out.")
    rps: float = setting(0.0, "GTM_BULK_RPS", doc="Requests per second, at most (0: no client-side limit).")


class PolishProvider(Section):
    """The polish family: Claude through the anthropic SDK."""

    base_url: str | None = setting(
        None, "GTM_POLISH_BASE_URL", "ANTHROPIC_BASE_URL", doc="The endpoint. Default: the SDK's."
    )
    model: str = setting(CLAUDE, "GTM_POLISH_MODEL", doc="The Claude model.")
    timeout_s: float = setting(60.0, "GTM_POLISH_TIMEOUT", doc="Seconds before a call times out.")
    rps: float = setting(0.0, "GTM_POLISH_RPS", doc="Requests per second, at most (0: no client-side limit).")
    cache_ttl: Literal["5m", "1h"] = setting(
        "5m",
        "GTM_POLISH_CACHE_TTL",
        doc="Prompt-cache lifetime of the stable prefix: 1h for backfills slower than a call per 5 minutes.",
    )


class ProviderSettings(Section):
    """Model providers. Each group's GROUP.md orders its chain; a family is used once its key is set."""

    offline: bool = setting(
        True,
        "GTM_OFFLINE",
        doc="Offer the offline, extractive provider: it answers where no live family is configured "
        "(false: never; a live model or a wait).",
    )
    offline_fallback: bool = setting(
        False,
        "GTM_OFFLINE_FALLBACK",
        doc="Let the offline provider stand in when a live one is configured but failing (off: the call "
        "waits for a later run and the operator is told, never a silent downgrade).",
    )
    workers: int = setting(8, "GTM_WORKERS", doc="Prospects in flight per Dagster run.")
    bulk: BulkProvider = Field(default_factory=BulkProvider)
    polish: PolishProvider = Field(default_factory=PolishProvider)

    @field_validator("workers")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("at least 1")
        return value


class PrivacySettings(Section):
    """Retention and the rights of the people in the data (DPDP Act and Rules)."""

    retention_days: int = setting(
        365, "GTM_RETENTION_DAYS", doc="Inactivity after which a prospect is erased (0: never)."
    )
    rights_response_days: int = setting(
        30,
        "GTM_RIGHTS_RESPONSE_DAYS",
        doc=f"The published response period for rights requests (at most {MAX_RESPONSE_DAYS} days).",
    )

    @field_validator("rights_response_days")
    @classmethod
    def _period(cls, value: int) -> int:
        if not 1 <= value <= MAX_RESPONSE_DAYS:
            raise ValueError(f"must be 1..{MAX_RESPONSE_DAYS} (the DPDP Rules allow at most 90 days)")
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value < 0:
            raise ValueError("0 (never) or a number of days")
        return value


class ConsoleSettings(Section):
    """The operator and the console."""

    operator: str | None = setting(
        None, "GTM_OPERATOR", doc="Who decisions are journaled as (operator:<name>). Default: cli / console."
    )
    dagster_url: str | None = setting(
        None,
        "GTM_DAGSTER_URL",
        doc="Where console links into the Dagster UI point. Default: the running `gtm ui`.",
    )
    secure_cookie: bool = setting(False, "GTM_CONSOLE_SECURE_COOKIE", doc="Mark the session cookie Secure.")
    serve_console: bool = setting(
        True,
        "GTM_SERVE_CONSOLE",
        doc="Whether `gtm serve`'s workers mount the console (set by gtm serve --console/--no-console).",
    )
    progress: Literal["auto", "always", "never"] = setting(
        "auto",
        "GTM_PROGRESS",
        doc="Progress bars of long commands (on stderr): auto draws them on a terminal only.",
    )


class FetchSettings(Section):
    """How the pipeline reads the web: politely, within limits, never inside your network."""

    enabled: bool = setting(
        False,
        "GTM_FETCH_ENABLED",
        doc=(
            "Read every company's own site through the fetcher (off: nothing leaves this machine; "
            "sample companies come from the bundled snapshot)."
        ),
    )
    contact: str | None = setting(
        None,
        "GTM_FETCH_CONTACT",
        doc="Named in the User-Agent so a site owner can reach a person. Default: sender.privacy_contact.",
    )
    pause_s: float = setting(1.0, "GTM_FETCH_PAUSE_S", doc="Seconds between two requests to one host.")
    global_rate: float = setting(10.0, "GTM_FETCH_RATE", doc="Requests per second per process, all hosts.")
    max_bytes: int = setting(5_000_000, "GTM_FETCH_MAX_BYTES", doc="Largest body kept; larger is refused.")
    max_redirects: int = setting(5, "GTM_FETCH_MAX_REDIRECTS", doc="Redirect hops followed before refusing.")
    timeout_s: float = setting(20.0, "GTM_FETCH_TIMEOUT_S", doc="Longest one fetch may take, all hops.")
    allow: list[str] = setting(
        [],
        "GTM_FETCH_ALLOW",
        doc="host:port pairs that may be fetched although not public (local twins). Empty: none.",
        csv=True,
    )
    connect_to: list[str] = setting(
        [],
        "GTM_FETCH_CONNECT_TO",
        doc="name=host:port routes to a local twin, like curl --connect-to (still checked against allow).",
        csv=True,
    )

    @field_validator("pause_s", "timeout_s")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("max_bytes", "max_redirects")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("at least 1")
        return value


class DiscoverySettings(Section):
    """Where discovery asks for behavioural signals: search APIs, news, filings, job boards."""

    exa_url: str = setting("https://api.exa.ai", "GTM_EXA_URL", doc="Exa's API (a twin's URL in tests).")
    tavily_url: str = setting(
        "https://api.tavily.com", "GTM_TAVILY_URL", doc="Tavily's API (a twin's URL in tests)."
    )
    gdelt_url: str = setting(
        "https://api.gdeltproject.org", "GTM_GDELT_URL", doc="The GDELT DOC 2.0 API (news, keyless)."
    )
    hn_url: str = setting(
        "https://hn.algolia.com", "GTM_HN_URL", doc="Hacker News search by Algolia (keyless)."
    )
    edgar_url: str = setting(
        "https://efts.sec.gov",
        "GTM_EDGAR_URL",
        doc="SEC EDGAR full-text search (keyless; 10 requests/s at most).",
    )
    daily_cap_usd: float = setting(
        5.0, "GTM_DISCOVERY_DAILY_CAP_USD", doc="Spend on paid search APIs per day, at most (list prices)."
    )
    cache_hours: int = setting(
        24, "GTM_DISCOVERY_CACHE_HOURS", doc="Hours a source's answer to the same query is reused."
    )
    timeout_s: float = setting(
        20.0, "GTM_DISCOVERY_TIMEOUT_S", doc="Seconds before one call to a discovery source times out."
    )

    @field_validator("exa_url", "tavily_url", "gdelt_url", "hn_url", "edgar_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http(s) base URL")
        return value.rstrip("/")

    @field_validator("daily_cap_usd", "cache_hours")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("timeout_s")
    @classmethod
    def _positive_timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0")
        return value


class Secrets(Section):
    """Keys and passwords: from the environment or the secrets file only, never from gtm.toml."""

    bulk_api_key: SecretStr | None = setting(
        None, "GTM_BULK_API_KEY", "NVIDIA_API_KEY", doc="Enables the bulk family."
    )
    anthropic_api_key: SecretStr | None = setting(None, "ANTHROPIC_API_KEY", doc="Enables the polish family.")
    resend_api_key: SecretStr | None = setting(None, "RESEND_API_KEY", doc="Enables sending.")
    resend_webhook_secret: SecretStr | None = setting(
        None, "RESEND_WEBHOOK_SECRET", doc="The webhook's whsec_ signing secret."
    )
    hubspot_token: SecretStr | None = setting(
        None, "GTM_HUBSPOT_TOKEN", doc="A HubSpot private app's token (with crm.kind = hubspot)."
    )
    calcom_webhook_secret: SecretStr | None = setting(
        None, "GTM_CALCOM_WEBHOOK_SECRET", doc="Cal.com's webhook secret: enables /webhooks/calcom."
    )
    calendly_webhook_signing_key: SecretStr | None = setting(
        None,
        "GTM_CALENDLY_WEBHOOK_SIGNING_KEY",
        doc="The Calendly subscription's signing key: enables /webhooks/calendly.",
    )
    operator_password: SecretStr | None = setting(
        None, "GTM_OPERATOR_PASSWORD", doc="The console's login (unset: every login is refused)."
    )
    console_secret: SecretStr | None = setting(
        None, "GTM_CONSOLE_SECRET", doc="Signs console sessions. Default: generated under home/secrets."
    )
    unsubscribe_secret: SecretStr | None = setting(
        None, "GTM_UNSUBSCRIBE_SECRET", doc="Signs unsubscribe links. Default: generated under home/secrets."
    )
    exa_api_key: SecretStr | None = setting(None, "EXA_API_KEY", doc="Enables Exa search in discovery.")
    tavily_api_key: SecretStr | None = setting(
        None, "TAVILY_API_KEY", doc="Enables Tavily search in discovery."
    )
    slack_webhook_url: SecretStr | None = setting(
        None, "GTM_SLACK_WEBHOOK_URL", doc="A Slack incoming webhook: escalations are posted there."
    )
    telegram_bot_token: SecretStr | None = setting(
        None, "GTM_TELEGRAM_BOT_TOKEN", doc="A Telegram bot's token (with alerts.telegram_chat_id)."
    )


class SettingsModel(Section):
    """Everything, as loaded (paths not yet resolved)."""

    paths: PathSettings = Field(default_factory=PathSettings)
    sender: SenderSettings = Field(default_factory=SenderSettings)
    sending: SendingLimits = Field(default_factory=SendingLimits)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    meetings: MeetingSettings = Field(default_factory=MeetingSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    secrets: Secrets = Field(default_factory=Secrets)


def env_names(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], list[str]]:
    """Every leaf setting's dotted path and its environment variable names."""
    found: dict[tuple[str, ...], list[str]] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.update(env_names(annotation, (*prefix, name)))
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        found[(*prefix, name)] = list(extra.get("env", []))  # type: ignore[arg-type]
    return found


def leaf_info(path: tuple[str, ...]) -> Any:
    """The pydantic FieldInfo of one leaf setting."""
    model: type[BaseModel] = SettingsModel
    for part in path[:-1]:
        annotation = model.model_fields[part].annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation
    return model.model_fields[path[-1]]
