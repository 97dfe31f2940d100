"""The ``ForceCommand`` of an OpenSSH server that stands in for one simulated node.

Interop tests run a real ``sshd`` in front of the simulator: whatever a client asks for (a
shell, a command or the ``sftp`` subsystem), sshd runs this program instead, and it carries
the session to the simulated node served on a Unix socket by the test process
(``relay_server.py``), so every connection sees the same node state.

- exec (``SSH_ORIGINAL_COMMAND`` set) and shell (unset): stdin and stdout are relayed as bytes.
  Under a pty the terminal is put in raw mode first, so the simulator's own line discipline
  (echo as input is consumed, CRLF output) is what the client sees, exactly as from the
  paramiko simulator, and not the kernel's cooked mode.
- SFTP: sshd runs the ForceCommand for subsystems too, with the subsystem's command line in
  ``SSH_ORIGINAL_COMMAND``; the relay asks the node for its file directory and replaces itself
  with OpenSSH's ``sftp-server`` started there.

Standard library only, and run with ``python -I``: sshd starts it with a clean environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import sys
import termios
import tty

USAGE = "usage: relay.py SOCKET SFTP_SERVER"
_CHUNK = 65536


def _header(sftp_command: str) -> dict[str, object]:
    command = os.environ.get("SSH_ORIGINAL_COMMAND")
    if command is None:
        kind = "shell"
    elif command == sftp_command:
        kind = "sftp"
    else:
        kind = "exec"
    return {
        "kind": kind,
        "command": command if kind == "exec" else None,
        "pty": os.isatty(0),
        "user": os.environ.get("USER") or os.environ.get("LOGNAME") or "",
        # "client-address client-port server-port": one SSH connection, whatever its channels.
        "client": os.environ.get("SSH_CLIENT", ""),
    }


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def _read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
    return line


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _pump(sock: socket.socket) -> int:
    """Bytes both ways until the node ends the session; its close ends ours."""
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "stdin")
    selector.register(sock, selectors.EVENT_READ, "node")
    while True:
        for key, _ in selector.select():
            if key.data == "node":
                try:
                    data = sock.recv(_CHUNK)
                except ConnectionResetError:
                    return 255  # the node ended the session abruptly
                if not data:
                    return 0
                _write_all(1, data)
            else:
                try:
                    data = os.read(0, _CHUNK)
                except OSError:  # a pty whose client has gone reads EIO
                    data = b""
                if data:
                    sock.sendall(data)
                else:
                    selector.unregister(0)
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    socket_path, sftp_server = argv
    header = _header(sftp_server)
    raw = None
    if header["pty"]:
        raw = termios.tcgetattr(0)
        tty.setraw(0)  # before the node can print its prompt: nothing typed is cooked
    try:
        with _connect(socket_path) as sock:
            sock.sendall(json.dumps(header).encode() + b"\n")
            if header["kind"] == "sftp":
                reply = json.loads(_read_line(sock) or b"{}")
                root = reply.get("sftp_root")
                if not isinstance(root, str):
                    print("relay: the node has no file area", file=sys.stderr)
                    return 1
                # The Subsystem command of our own sshd_config, not input from the client.
                os.execv(sftp_server, [sftp_server, "-d", root])  # noqa: S606
            return _pump(sock)
    except OSError as error:
        print(f"relay: cannot reach the simulated node at {socket_path}: {error}", file=sys.stderr)
        return 1
    finally:
        if raw is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(0, termios.TCSADRAIN, raw)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
