"""A local SMTP sink for development and the demo: stores every message in the instance folder.

Like many providers, it drops a second message with a Message-ID it already has, so a sender
restarted after a crash (``SMTP_IDEMPOTENT=1``) cannot fill the mailbox twice.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser
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

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """The hook aiosmtpd calls by this name."""
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


def start(
    folder: Path, host: str = "127.0.0.1", port: int = 8025
) -> tuple[Controller, SinkHandler]:
    from aiosmtpd.controller import Controller

    handler = SinkHandler(folder)
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    return controller, handler


@dataclass(frozen=True)
class Caught:
    received_at: datetime
    to: str
    subject: str
    text: str
    path: Path
    message_id: str = ""


def _newest_first(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)


def _message_id(path: Path) -> str:
    with path.open("rb") as file:
        return str(BytesHeaderParser(policy=policy.default).parse(file).get("Message-ID") or "")


def message_ids(folder: Path) -> list[str]:
    """The Message-ID of every message in the sink's folder (read from the headers only)."""
    return [found for found in map(_message_id, _newest_first(folder)) if found]


def list_messages(
    folder: Path, limit: int = 200, *, only: Container[str] | None = None
) -> list[Caught]:
    """The newest messages in the sink's folder with their plain-text part.

    The sink catches every brand's mail, so a page for one brand passes ``only``: the Message-IDs
    that brand sent, and sees no other message.
    """
    caught: list[Caught] = []
    for path in _newest_first(folder):
        if len(caught) >= limit:
            break
        if only is not None and _message_id(path) not in only:
            continue
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        caught.append(
            Caught(
                received_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                to=str(message.get("To", "")),
                subject=str(message.get("Subject", "")),
                text=body.get_content() if body is not None else "",
                path=path,
                message_id=str(message.get("Message-ID", "")),
            )
        )
    return caught
