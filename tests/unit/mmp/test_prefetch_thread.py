"""A download cut by a lost connection shows one error, not a thread's traceback too.

Run in a fresh interpreter: pytest replaces ``threading.excepthook`` during each test.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# paramiko's read-ahead thread as its traceback shows it: a function of that name in a file of
# that name (compiled from source, so the test needs no broken connection).
SCRIPT = """
import sys, threading
import reconciler.mmp.transport  # installs the hook, as every run does
source = "def _prefetch_thread(error):\\n    raise error\\n"
namespace = {}
exec(compile(source, "/site-packages/paramiko/sftp_file.py", "exec"), namespace)
def elsewhere(error):
    raise error
target = namespace["_prefetch_thread"] if sys.argv[1] == "prefetch" else elsewhere
error = {"eof": EOFError("peer closed"), "reset": ConnectionResetError("reset by peer"),
         "bug": ValueError("a bug")}[sys.argv[2]]
thread = threading.Thread(target=target, args=(error,))
thread.start()
thread.join()
"""


def thread_stderr(where: str, error: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, where, error],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


@pytest.mark.parametrize("error", ["eof", "reset"])
def test_a_lost_connection_in_paramikos_read_ahead_thread_prints_nothing(error: str) -> None:
    assert thread_stderr("prefetch", error) == ""


@pytest.mark.parametrize(
    ("where", "error", "shown"),
    [
        ("prefetch", "bug", "ValueError: a bug"),
        ("elsewhere", "eof", "EOFError: peer closed"),
    ],
)
def test_every_other_thread_failure_still_shows(where: str, error: str, shown: str) -> None:
    stderr = thread_stderr(where, error)
    assert "Traceback" in stderr
    assert shown in stderr
