"""Push notifications: Firebase Cloud Messaging for Android and iOS app tokens (FCM relays to
APNs), Web Push with VAPID for browsers.

The provider libraries (firebase-admin, pywebpush) are imported only here and only when a send
needs them; without them, or without credentials, the channel reports itself unavailable and
prompts go to the next channel in the template's order.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import threading
from typing import Any

from django.conf import settings

from reminders.channels.base import (
    NOTIFICATION_TITLE,
    Channel,
    DeviceTarget,
    Message,
    Recipient,
    SendResult,
    notification_body,
)

logger = logging.getLogger(__name__)

FCM_PLATFORMS = ("ios", "android")
WEB_PLATFORMS = ("web",)
# A Web Push topic is at most 32 URL-safe characters; the digest of the key fits.
WEBPUSH_TOPIC_LENGTH = 32
WEBPUSH_TTL_SECONDS = 24 * 3600


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class PushChannel(Channel):
    _lock = threading.Lock()
    _fcm_app: Any = None

    def _fcm_configured(self) -> bool:
        return bool(settings.REMINDERS_FCM_CREDENTIALS_FILE) and _installed("firebase_admin")

    def _webpush_configured(self) -> bool:
        return bool(
            settings.REMINDERS_WEBPUSH_VAPID_PRIVATE_KEY and settings.REMINDERS_WEBPUSH_SUBJECT
        ) and _installed("pywebpush")

    def _platforms(self) -> tuple[str, ...]:
        platforms: tuple[str, ...] = ()
        if self._fcm_configured():
            platforms += FCM_PLATFORMS
        if self._webpush_configured():
            platforms += WEB_PLATFORMS
        return platforms

    def available(self) -> bool:
        return bool(self._platforms())

    def reaches(self, recipient: Recipient) -> bool:
        platforms = self._platforms()
        return any(device.platform in platforms for device in recipient.devices)

    def send(self, message: Message, recipient: Recipient) -> SendResult:
        platforms = self._platforms()
        ids: list[str] = []
        errors: list[str] = []
        stale = []
        for device in recipient.devices:
            if device.platform not in platforms:
                continue
            try:
                if device.platform in FCM_PLATFORMS:
                    provider_id = self._send_fcm(message, device)
                else:
                    provider_id = self._send_webpush(message, device)
            except _GoneDevice:
                stale.append(device.device_id)
                continue
            except Exception as exc:
                errors.append(type(exc).__name__)
                continue
            ids.append(provider_id)
        if ids:
            return SendResult(
                ok=True, provider_message_id=ids[0][:200], stale_device_ids=tuple(stale)
            )
        return SendResult(
            ok=False, error=(errors[0] if errors else "no-device"), stale_device_ids=tuple(stale)
        )

    def _app(self) -> Any:
        with self._lock:
            if PushChannel._fcm_app is None:
                import firebase_admin
                from firebase_admin import credentials

                certificate = credentials.Certificate(settings.REMINDERS_FCM_CREDENTIALS_FILE)
                PushChannel._fcm_app = firebase_admin.initialize_app(certificate, name="reminders")
            return PushChannel._fcm_app

    def _send_fcm(self, message: Message, device: DeviceTarget) -> str:
        from firebase_admin import messaging

        key = message.idempotency_key
        payload = messaging.Message(
            token=device.token,
            notification=messaging.Notification(
                title=NOTIFICATION_TITLE, body=notification_body(message)
            ),
            data={"prompt_id": str(message.prompt_id), "attempt": str(message.attempt)},
            android=messaging.AndroidConfig(collapse_key=key[:64]),
            # The device shows one notification per key, however often it is sent.
            apns=messaging.APNSConfig(headers={"apns-collapse-id": key[:64]}),
        )
        try:
            return str(messaging.send(payload, app=self._app()))
        except messaging.UnregisteredError as exc:
            raise _GoneDevice from exc

    def _send_webpush(self, message: Message, device: DeviceTarget) -> str:
        from pywebpush import WebPushException, webpush

        topic = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:WEBPUSH_TOPIC_LENGTH]
        body = json.dumps(
            {
                "title": NOTIFICATION_TITLE,
                "body": notification_body(message),
                "prompt_id": str(message.prompt_id),
                "attempt": message.attempt,
            }
        )
        try:
            response = webpush(
                subscription_info=json.loads(device.token),
                data=body,
                vapid_private_key=settings.REMINDERS_WEBPUSH_VAPID_PRIVATE_KEY,
                vapid_claims={"sub": settings.REMINDERS_WEBPUSH_SUBJECT},
                ttl=WEBPUSH_TTL_SECONDS,
                headers={"Topic": topic},
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (404, 410):
                raise _GoneDevice from exc
            raise
        return str(response.headers.get("Location", topic))


class _GoneDevice(Exception):
    pass
