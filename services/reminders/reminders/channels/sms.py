"""Text messages through Twilio. The SDK is imported only here, when a message is sent or a
delivery report arrives; without it or without an account the channel is unavailable."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.conf import settings
from django.utils import timezone

from reminders.channels.base import (
    CallbackRefused,
    Channel,
    Message,
    Receipt,
    Recipient,
    SendResult,
    notification_body,
)

DELIVERED_STATUSES = ("delivered",)


class SmsChannel(Channel):
    def available(self) -> bool:
        return (
            bool(
                settings.REMINDERS_TWILIO_ACCOUNT_SID
                and settings.REMINDERS_TWILIO_AUTH_TOKEN
                and settings.REMINDERS_TWILIO_FROM
            )
            and importlib.util.find_spec("twilio") is not None
        )

    def _client(self) -> Any:
        from twilio.rest import Client

        return Client(settings.REMINDERS_TWILIO_ACCOUNT_SID, settings.REMINDERS_TWILIO_AUTH_TOKEN)

    def send(self, message: Message, recipient: Recipient) -> SendResult:
        options: dict[str, Any] = {
            "to": recipient.phone,
            "from_": settings.REMINDERS_TWILIO_FROM,
            "body": notification_body(message),
        }
        if settings.REMINDERS_TWILIO_CALLBACK_URL:
            options["status_callback"] = settings.REMINDERS_TWILIO_CALLBACK_URL
        sent = self._client().messages.create(**options)
        return SendResult(ok=True, provider_message_id=str(sent.sid))

    def receipts(self, request: Any) -> list[Receipt]:
        from twilio.request_validator import RequestValidator

        validator = RequestValidator(settings.REMINDERS_TWILIO_AUTH_TOKEN)
        signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
        params = request.POST.dict()
        if not validator.validate(settings.REMINDERS_TWILIO_CALLBACK_URL, params, signature):
            raise CallbackRefused(self.name)
        if params.get("MessageStatus") not in DELIVERED_STATUSES or not params.get("MessageSid"):
            return []
        return [Receipt(params["MessageSid"], "delivered", timezone.now())]
