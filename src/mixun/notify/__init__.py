"""Notification gateways for people who are offline (M3): an outbox adapter by default.

The default adapter appends one JSON line per notification to ``<data dir>/outbox/sms.jsonl`` for an
SMS or e-mail gateway to pick up; a bank plugs its own gateway in behind ``Notifier.send``. Message
content never leaves through the gateway — only that an urgent message is waiting and from whom.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class Notifier(Protocol):
    def send(self, user_id: int, phone: str | None, text: str) -> None: ...


class OutboxNotifier:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "outbox" / "sms.jsonl"
        self._lock = threading.Lock()

    def send(self, user_id: int, phone: str | None, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": datetime.now(UTC).isoformat(), "user_id": user_id, "phone": phone,
                           "text": text}, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
