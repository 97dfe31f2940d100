"""The apply journal: one JSON-lines file per apply, the record of what happened and why.

Every line is an event with a UTC time. Command output is redacted before it is written.
"""

from __future__ import annotations

import getpass
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.mmp.session import Redactor
from reconciler.workdir import open_private, private_dir


def operator() -> dict[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"user": user, "host": socket.gethostname()}


class Journal:
    def __init__(self, path: Path, redactor: Redactor | None = None) -> None:
        self.path = path
        self._redactor = redactor or Redactor()
        private_dir(path.parent)

    @classmethod
    def create(cls, directory: Path, cluster: str, now: datetime, redactor: Redactor) -> Journal:
        name = f"{cluster}-{now.strftime('%Y%m%dT%H%M%S%fZ')}.jsonl"
        return cls(directory / name, redactor)

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": datetime.now(UTC).isoformat(), "event": event, **fields}
        # Redact values before encoding (JSON escaping would hide a secret from a text
        # search), and the encoded line again for anything turned into text by ``str``.
        line = self._redactor.redact(json.dumps(self._redact(record), default=str))
        with open_private(self.path, "a") as stream:
            stream.write(line + "\n")

    def _redact(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redactor.redact(value)
        if isinstance(value, dict):
            return {key: self._redact(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact(item) for item in value]
        return value

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]
