"""Escalations on the operator's phone: Slack (incoming webhook) and/or Telegram (bot API).

- :mod:`.message` writes an alert from an escalation: its kind in words, the company (never a
  person, never an address) and a link to the console page; the escalation's free-text detail
  stays in the console, since it may quote a person.
- :mod:`.channels` posts one alert to one channel over ``httpx``, with bounded retries that honour
  Slack's ``Retry-After`` and Telegram's ``retry_after``.
- :mod:`.dispatch` is one pass: queue each new escalation once per channel, claim it (one
  conditional UPDATE, so two passes at once post it once), post, record the outcome; an escalation
  acknowledged first is closed, not posted; a failure is kept on its row and escalated.
- :mod:`.setup` builds the configured channels from the settings (the only reader of their keys).
"""
