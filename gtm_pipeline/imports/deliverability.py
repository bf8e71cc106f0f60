"""Whether an address's domain takes mail at all (MX, else A/AAAA), through ``email-validator``
and ``dnspython``: asked once per domain, never per address, and never of the mail server itself
(probing mailboxes over SMTP is unreliable and impolite, and is not done).

The resolver is injectable so tests answer from a table instead of the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from email_validator import EmailNotValidError, EmailUndeliverableError, validate_email


def undeliverable_domains(domains: Iterable[str], resolver: Any | None = None) -> dict[str, str]:
    """Domain -> why mail cannot be delivered there, for the domains that fail. A lookup DNS could
    not answer (a timeout, no nameserver) is reported as ``unknown: …``, so it is shown rather than
    passed silently as deliverable; only a definite answer flags an address."""
    failing: dict[str, str] = {}
    for domain in sorted(set(domains)):
        try:
            checked = validate_email(f"postmaster@{domain}", check_deliverability=True, dns_resolver=resolver)
            if getattr(checked, "mx", None) is None:  # email-validator's "unknown-deliverability"
                failing[domain] = "unknown: DNS gave no answer (a timeout or no nameserver)"
        except EmailUndeliverableError as exc:
            failing[domain] = f"undeliverable: {exc}"
        except EmailNotValidError as exc:
            failing[domain] = f"invalid: {exc}"
    return failing
