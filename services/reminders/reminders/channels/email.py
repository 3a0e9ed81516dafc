from __future__ import annotations

import contextlib
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from reminders.channels.base import (
    NOTIFICATION_TITLE,
    Channel,
    Message,
    Recipient,
    SendResult,
    notification_body,
)


class EmailChannel(Channel):
    """E-mail through Django's configured mail backend, to the address the patient registered
    in their preferences (identity's addresses never reach this service)."""

    def available(self) -> bool:
        return bool(settings.REMINDERS_EMAIL_FROM)

    def send(self, message: Message, recipient: Recipient) -> SendResult:
        return self.send_many([(message, recipient)])[0]

    def send_many(self, items: Sequence[tuple[Message, Recipient]]) -> list[SendResult]:
        results: list[SendResult] = []
        # One SMTP session for the whole batch instead of one per message.
        connection = get_connection(fail_silently=False)
        try:
            connection.open()
            for message, recipient in items:
                results.append(self._send_one(connection, message, recipient))
        except Exception as exc:
            failed = SendResult(ok=False, error=type(exc).__name__)
            results += [failed] * (len(items) - len(results))
        finally:
            # A session that broke while closing must not lose the results gathered so far.
            with contextlib.suppress(Exception):
                connection.close()
        return results

    def _send_one(
        self, connection: BaseEmailBackend, message: Message, recipient: Recipient
    ) -> SendResult:
        message_id = f"<{message.prompt_id}.{message.attempt}@reminders>"
        email = EmailMessage(
            subject=NOTIFICATION_TITLE,
            body=notification_body(message),
            from_email=settings.REMINDERS_EMAIL_FROM,
            to=[recipient.email],
            headers={"Message-ID": message_id},
            connection=connection,
        )
        try:
            sent = email.send()
        except Exception as exc:
            return SendResult(ok=False, error=type(exc).__name__)
        if not sent:
            return SendResult(ok=False, error="not-accepted")
        return SendResult(ok=True, provider_message_id=message_id)
