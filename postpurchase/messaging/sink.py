"""A local SMTP sink for development and the demo: stores every message in the instance folder.

Like many providers, it drops a second message with a Message-ID it already has, so a sender
restarted after a crash (``SMTP_IDEMPOTENT=1``) cannot fill the mailbox twice.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller


def mail_dir(instance_path: str | Path) -> Path:
    return Path(instance_path) / "mail"


class SinkHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.received = 0
        self.duplicates = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        message_id = str(message.get("Message-ID") or hashlib.sha256(envelope.content).hexdigest())
        name = hashlib.sha256(message_id.encode()).hexdigest()[:32] + ".eml"
        with self._lock:
            self.received += 1
            path = self.folder / name
            if path.exists():
                self.duplicates += 1
            else:
                path.write_bytes(envelope.content)
        return "250 OK queued as " + name[:12]


def start(folder: Path, host: str = "127.0.0.1", port: int = 8025) -> tuple[Controller, SinkHandler]:
    from aiosmtpd.controller import Controller

    handler = SinkHandler(folder)
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    return controller, handler


@dataclass(frozen=True)
class Caught:
    received: str
    to: str
    subject: str
    text: str
    path: Path


def list_messages(folder: Path, limit: int = 200) -> list[Caught]:
    """The newest messages in the sink's folder with their plain-text part."""
    if not folder.exists():
        return []
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    caught = []
    for path in files:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        caught.append(Caught(
            received=datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            to=str(message.get("To", "")), subject=str(message.get("Subject", "")),
            text=body.get_content() if body is not None else "", path=path))
    return caught
