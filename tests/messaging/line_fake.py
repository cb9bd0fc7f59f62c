"""A local fake of LINE's Messaging API: a real HTTP server that checks request shapes.

It serves ``POST /v2/bot/message/push``, ``POST /v2/bot/message/reply`` and
``POST /v2/bot/user/{userId}/linkToken`` the way the API reference describes them: a bearer token,
JSON bodies with ``to``/``replyToken`` and 1–5 messages, no body for the link token, a reply token
accepted once. A request that breaks a rule is answered 400 and its reason kept in ``problems``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.messaging.flex_schema import problems as flex_problems

TOKEN = "test-channel-token"
_USER_ID = re.compile(r"U[0-9a-f]{32}")
_LINK_TOKEN_PATH = re.compile(r"/v2/bot/user/(?P<user>[^/]+)/linkToken")
MESSAGE_TYPES = {"text", "flex", "template", "sticker", "image"}


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLine:
    """What the fake received; ``reply_tokens`` are the tokens it will still accept."""

    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reply_tokens: set[str] = field(default_factory=set)
    link_tokens: list[str] = field(default_factory=list)
    base_url: str = ""

    def on(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]

    def pushes(self) -> list[Call]:
        return self.on("/v2/bot/message/push")

    def replies(self) -> list[Call]:
        return self.on("/v2/bot/message/reply")

    def check(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Authentication failed"}
        link = _LINK_TOKEN_PATH.fullmatch(path)
        if link:
            if raw:
                return 400, {"message": "linkToken takes no body"}
            if not _USER_ID.fullmatch(link["user"]):
                return 400, {"message": "The value for the 'userId' parameter is invalid"}
            token = f"LINKTOKEN{len(self.link_tokens) + 1:04d}"
            self.link_tokens.append(token)
            return 200, {"linkToken": token}
        if not headers.get("content-type", "").startswith("application/json"):
            return 400, {"message": "Content-Type must be application/json"}
        body = json.loads(raw)
        messages = body.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return 400, {"message": "messages: 1 to 5"}
        for message in messages:
            if message.get("type") not in MESSAGE_TYPES:
                return 400, {"message": "unknown message type"}
            if message["type"] == "text" and not 1 <= len(message.get("text", "")) <= 5000:
                return 400, {"message": "text: 1 to 5000 characters"}
            if message["type"] == "flex" and flex_problems(message):
                return 400, {"message": "; ".join(flex_problems(message))}
        if path == "/v2/bot/message/push":
            if not _USER_ID.fullmatch(str(body.get("to"))):
                return 400, {"message": "The property, 'to', in the request body is invalid"}
            return 200, {"sentMessages": [{"id": f"{len(self.pushes()):06d}"}]}
        if path == "/v2/bot/message/reply":
            token = body.get("replyToken")
            if token not in self.reply_tokens:
                return 400, {"message": "Invalid reply token"}
            self.reply_tokens.discard(token)
            return 200, {"sentMessages": [{"id": "r1"}]}
        return 404, {"message": "Not found"}


def _handler(fake: FakeLine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = fake.check(self.path, headers, raw)
            fake.calls.append(Call(self.path, headers, json.loads(raw) if raw else None))
            if status != 200:
                fake.problems.append(f"{self.path}: {answer['message']}")
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-line-request-id", "req-1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve() -> Iterator[FakeLine]:
    """Run the fake on a free local port while the caller's block runs."""
    fake = FakeLine()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
