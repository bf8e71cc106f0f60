"""The configured alert channels: the only place their keys are read and handed to a client."""

from __future__ import annotations

from gtm_pipeline.alerts.channels import Channel, SlackWebhook, TelegramBot
from gtm_pipeline.config import Settings
from gtm_pipeline.config.alerts import AlertSettings

NOT_CONFIGURED = (
    "no alert channel is configured: set GTM_SLACK_WEBHOOK_URL (a Slack incoming webhook) and/or "
    "GTM_TELEGRAM_BOT_TOKEN with alerts.telegram_chat_id (GTM_TELEGRAM_CHAT_ID), in the environment "
    "or secrets.env"
)


def build_channels(
    alerts: AlertSettings, *, slack_webhook_url: str | None, telegram_bot_token: str | None
) -> list[Channel]:
    """Slack when its webhook is set; Telegram when both its token and its chat are set. A token
    without a chat (or the reverse) is a half-configured channel: refused, never ignored."""
    channels: list[Channel] = []
    if slack_webhook_url:
        channels.append(SlackWebhook(slack_webhook_url, timeout_s=alerts.timeout_s))
    if bool(telegram_bot_token) != bool(alerts.telegram_chat_id):
        missing = (
            "alerts.telegram_chat_id (GTM_TELEGRAM_CHAT_ID)"
            if telegram_bot_token
            else "GTM_TELEGRAM_BOT_TOKEN"
        )
        raise ValueError(f"Telegram alerts are half configured: {missing} is not set")
    if telegram_bot_token and alerts.telegram_chat_id:
        channels.append(
            TelegramBot(
                telegram_bot_token,
                alerts.telegram_chat_id,
                api_url=alerts.telegram_api_url,
                timeout_s=alerts.timeout_s,
            )
        )
    return channels


def channels_from_settings(settings: Settings) -> list[Channel]:
    """The channels of this workspace (empty when none is configured)."""
    return build_channels(
        settings.alerts,
        slack_webhook_url=settings.alert_secret("slack_webhook_url"),
        telegram_bot_token=settings.alert_secret("telegram_bot_token"),
    )
