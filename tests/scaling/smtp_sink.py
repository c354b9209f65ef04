"""An SMTP server on loopback that accepts every message and keeps a line per message, so the
topology's emails can be counted where a customer would receive them (after SMTP), not in the
outbox that claims to have sent them.

    python -m tests.scaling.smtp_sink PORT FILE

Each accepted message appends one JSON line to FILE: its Message-ID, recipients and subject.
aiosmtpd (a dev dependency) is the SMTP server; it runs until SIGTERM.
"""

import asyncio
import json
import signal
import sys
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller


class RecordingHandler:
    """aiosmtpd's handler: write the line, flushed, before answering 250 (so an email the
    sender counts as delivered is in the file)."""

    def __init__(self, path: Path):
        self.file = path.open("a", encoding="utf-8")

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        line = {
            "message_id": str(message.get("Message-ID", "")),
            "to": list(envelope.rcpt_tos),
            "subject": str(message.get("Subject", "")),
        }
        self.file.write(json.dumps(line) + "\n")
        self.file.flush()
        return "250 Message accepted for delivery"


def delivered(path: Path) -> list[dict]:
    """Every message the sink accepted, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(port: str, path: str) -> None:
    controller = Controller(RecordingHandler(Path(path)), hostname="127.0.0.1", port=int(port))
    controller.start()
    stopped = asyncio.Event()
    loop = asyncio.new_event_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    try:
        loop.run_until_complete(stopped.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
