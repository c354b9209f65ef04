"""An email backend that records each message as a file, for tests that send from a worker.

Like Django's file-based backend, but one file per message, written atomically, so a test in
another process can count deliveries. Before each message it leaves a `sending-*.json` marker
(the Celery task and the process doing it), then takes EMAIL_RECORDING_SEND_SECONDS: a test
that sees the marker knows the worker is in the middle of sending, and may kill it there.
"""

import json
import os
import time
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from celery import current_task
from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage as DjangoEmailMessage


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list[DjangoEmailMessage]) -> int:
        directory = Path(settings.EMAIL_RECORDING_DIR)
        for email_message in email_messages:
            name = uuid.uuid4().hex
            _write_atomically(
                directory / f"sending-{name}.json",
                json.dumps(
                    {
                        "task_id": current_task.request.id if current_task else None,
                        "pid": os.getpid(),
                        "started_at": time.time(),
                        "message_id": email_message.extra_headers.get("Message-ID"),
                    }
                ).encode(),
            )
            time.sleep(settings.EMAIL_RECORDING_SEND_SECONDS)
            _write_atomically(directory / f"sent-{name}.eml", email_message.message().as_bytes())
        return len(email_messages)


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the whole file or none of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


class MailRecording:
    """What the workers of one test have sent, read from the backend's directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def sending(self) -> list[dict]:
        """The sends that started (finished or not), oldest first."""
        markers = [json.loads(path.read_bytes()) for path in self.directory.glob("sending-*.json")]
        return sorted(markers, key=lambda marker: marker["started_at"])

    def sent(self) -> list[EmailMessage]:
        """The messages delivered."""
        return [
            message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(self.directory.glob("sent-*.eml"))
        ]
