"""Where one `reconcile --plan` spends its time, phase by phase, across all reader threads.

`python -m benchmarks.phases --plan --repo DIR`: runs the real CLI in this process with timers
wrapped around the import, the desired-state load and each SSH phase, and prints JSON.
cProfile sees only the main thread, which mostly waits for the reader pool; these timers
are summed over every node's thread.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

STARTED = time.perf_counter()
TOTALS: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)
LOCK = threading.Lock()


def timed(owner: Any, attribute: str, phase: str) -> None:
    original: Callable[..., Any] = getattr(owner, attribute)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            with LOCK:
                TOTALS[phase] += time.perf_counter() - began
                COUNTS[phase] += 1

    setattr(owner, attribute, wrapper)


def main() -> None:
    import reconciler.cli as cli

    imported = time.perf_counter() - STARTED
    import reconciler.apply.apply
    import reconciler.reconcile
    from reconciler import run
    from reconciler.mmp import session, transport

    imported_for_plan = time.perf_counter() - STARTED - imported
    from reconciler.live import reader

    defaults = reader.read_clusters.__kwdefaults__
    if defaults is not None and os.environ.get("BENCH_READ_PARALLEL"):  # experiment: pool bound
        defaults["max_parallel"] = int(os.environ["BENCH_READ_PARALLEL"])
    del reconciler

    timed(run, "load_desired", "load desired state (YAML, certs, keys)")
    timed(transport.SSHTransport, "_open_socket", "TCP connect")
    timed(transport.SSHTransport, "_handshake", "SSH handshake (key exchange)")
    timed(transport.KnownHosts, "verify", "host key check")
    timed(transport.SSHTransport, "_authenticate", "login")
    timed(transport.SSHTransport, "open_shell", "open shell channel")
    timed(session.MMPShell, "start", "wait for first MMP prompt")
    timed(session.MMPShell, "run", "MMP commands (to the prompt)")
    timed(transport.SSHTransport, "_sftp_client", "open SFTP")
    timed(transport.SSHTransport, "read_file", "SFTP file reads")
    timed(run.Fleet, "read_live", "read live state (wall, all nodes)")
    timed(run, "plan_cluster", "plan (pure)")
    sys.argv = ["reconcile", *sys.argv[1:]]
    code: object = 0
    began = time.perf_counter()
    try:
        cli.main()
    except SystemExit as done:
        code = done.code
    ended = time.perf_counter()
    report = {
        "exit": code,
        "wall_in_process_s": round(ended - STARTED, 3),
        "imports_at_start_s": round(imported, 3),
        "imports_for_plan_s": round(imported_for_plan, 3),
        "command_s": round(ended - began, 3),
        "phases": {
            phase: {"seconds_summed_over_threads": round(total, 3), "calls": COUNTS[phase]}
            for phase, total in TOTALS.items()
        },
    }
    print(json.dumps(report, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
