"""A deliberately plain MMP client for simulator tests: raw paramiko, pinned host key.

It is independent of the reconciler's own session code, so simulator tests check the
device side and not our client.
"""

from __future__ import annotations

import re
import time
from types import TracebackType

import paramiko

from reconciler.simulator.service import SimulatedCluster

# A (Y/n) warning block ends with the restart (or reboot) line, or with join's NOTE lines.
WARNING_BLOCK_END = r"\(Y/n\)[\s\S]*?(?:procedure\.\r?\n(?!NOTE)|will be removed\r?\n)"


class MMPClient:
    def __init__(
        self, cluster: SimulatedCluster, node: str, password: str, user: str = "admin"
    ) -> None:
        sim_node = cluster.node(node)
        server = cluster.server(node)
        host, port = server.address
        self.prompt = f"{sim_node.name}> "
        self.client = paramiko.SSHClient()
        for line in cluster.known_hosts_lines():
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
            assert entry is not None
            for name in entry.hostnames:
                self.client.get_host_keys().add(name, entry.key.get_name(), entry.key)
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.client.connect(
            host,
            port,
            username=user,
            password=password,
            timeout=10,
            allow_agent=False,
            look_for_keys=False,
        )
        self.channel = self.client.invoke_shell(width=200)
        self.channel.settimeout(10)
        self._buffer = ""
        self.read_until_prompt()

    def read_until(self, pattern: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while not regex.search(self._buffer):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waiting for {pattern!r}; have {self._buffer[-300:]!r}")
            try:
                data = self.channel.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise EOFError(f"connection closed; have {self._buffer[-300:]!r}")
            self._buffer += data.decode()
        match = regex.search(self._buffer)
        assert match is not None
        text, self._buffer = self._buffer[: match.end()], self._buffer[match.end() :]
        return text

    def read_until_prompt(self) -> str:
        return self.read_until(re.escape(self.prompt) + r"$")

    def run(self, command: str, answer: str | None = None) -> str:
        """Send a command; answer its (Y/n) block; return the output without echo and prompt."""
        self.channel.sendall((command + "\r").encode())
        if answer is not None:
            head = self.read_until(WARNING_BLOCK_END)
            self.channel.sendall((answer + "\r").encode())
        else:
            head = ""
        text = (head + self.read_until_prompt()).replace("\r\n", "\n")
        lines = text.split("\n")
        assert lines[0] == command, f"expected the echo of {command!r}, got {lines[0]!r}"
        if answer is not None:
            lines = [line for line in lines if line != answer]
        return "\n".join(lines[1:-1]) + "\n" if len(lines) > 2 else ""

    def sftp(self) -> paramiko.SFTPClient:
        transport = self.client.get_transport()
        assert transport is not None
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        return sftp

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> MMPClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
