from __future__ import annotations

import logging
from collections.abc import Sequence

from reminders.channels.base import Channel, Message, Recipient, SendResult

logger = logging.getLogger(__name__)


class ConsoleChannel(Channel):
    """Writes a line to the log: the embedded default, where no provider is configured. The line
    says which prompt and attempt, and that it is a pain-score prompt: nothing more."""

    def reaches(self, recipient: Recipient) -> bool:
        return True

    def send(self, message: Message, recipient: Recipient) -> SendResult:
        return self.send_many([(message, recipient)])[0]

    def send_many(self, items: Sequence[tuple[Message, Recipient]]) -> list[SendResult]:
        # One line per prompt (the log is this channel's recipient), built only if it is kept.
        if logger.isEnabledFor(logging.INFO):
            for message, _ in items:
                logger.info(
                    "a pain-score prompt was sent to the console",
                    extra={
                        "prompt_id": str(message.prompt_id),
                        "attempt": message.attempt,
                        "channel": self.name,
                    },
                )
        return [
            SendResult(ok=True, provider_message_id=f"console:{message.idempotency_key}")
            for message, _ in items
        ]
