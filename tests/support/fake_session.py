"""An in-memory MMPSession for executor-side unit tests (no SSH)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from pathlib import Path

from reconciler.mmp.session import CommandResult, TranscriptEntry


class FakeSession:
    """Answers `database cluster status` from a script; a dict stands in for the file area."""

    def __init__(self, node: str = "cms2", statuses: Iterable[str] = ()) -> None:
        self._node = node
        self.statuses = deque(statuses)
        self.files: dict[str, bytes] = {}
        self.commands: list[str] = []
        self.replies: dict[str, str] = {}  # output of commands other than status

    @property
    def node(self) -> str:
        return self._node

    @property
    def transcript(self) -> list[TranscriptEntry]:
        return []

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        self.commands.append(command)
        if command in self.replies:
            return CommandResult(self._node, command, self.replies[command], False, 0.0)
        output = self.statuses[0] if len(self.statuses) == 1 else self.statuses.popleft()
        return CommandResult(self._node, command, output, False, 0.0)

    def run_confirmed(self, command: str, timeout: float | None = None) -> CommandResult:
        self.commands.append(command)
        return CommandResult(self._node, command, "Please wait...\n", True, 0.0)

    def read_file(self, name: str) -> bytes | None:
        return self.files.get(name)

    def write_file(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def create_file(self, name: str, data: bytes) -> bool:
        if name in self.files:
            return False
        self.files[name] = data
        return True

    def remove_file(self, name: str) -> None:
        self.files.pop(name, None)

    def download(self, name: str, local: Path) -> int:
        local.write_bytes(self.files[name])
        return len(self.files[name])

    def file_size(self, name: str) -> int | None:
        return len(self.files[name]) if name in self.files else None

    def close(self) -> None:
        pass
