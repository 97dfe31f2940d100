"""Build the container image (Dockerfile) from this checkout and run it as a user would.

`make image-test` and test.yml's image job, wherever a Docker engine runs:
- ``docker run IMAGE --version`` prints ``reconcile`` and reconciler/__init__.py's __version__;
- the image's user is not root (``id -u``);
- ``docker run IMAGE demo`` converges the built-in lab, with no network (``--network none``:
  the lab listens on the container's loopback, and nothing is fetched).
Exit 1, saying which check failed, on the first that does.

Usage: python3 scripts/image_smoke.py [IMAGE]   (default cms-reconciler:test; `docker` on PATH)
Standard library only: it runs on a runner's system Python, without the project installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = "cms-reconciler:test"
DEMO_TIMEOUT = 600  # seconds; the demo itself takes well under a minute


def version() -> str:
    """``__version__`` as reconciler/__init__.py writes it, read without importing it."""
    tree = ast.parse((ROOT / "reconciler" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            "__version__"
        ]:
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise SystemExit("reconciler/__init__.py has no __version__ = '...'")


def docker(
    *args: str, timeout: float = 120, show: bool = False
) -> subprocess.CompletedProcess[str]:
    """``docker ARGS``; its output captured for the checks, or shown as it comes (``show``)."""
    print(f"$ docker {' '.join(args)}", flush=True)
    try:
        return subprocess.run(  # noqa: S603 (no shell; the arguments are this script's own)
            ["docker", *args],  # noqa: S607 (docker as PATH finds it, as a user would run it)
            cwd=ROOT,
            capture_output=not show,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(["docker", *args], 124, "", f"timed out ({timeout} s)\n")


def fail(check: str, done: subprocess.CompletedProcess[str]) -> int:
    print(f"image_smoke: {check}\n{done.stdout or ''}{done.stderr or ''}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    image = argv[1] if len(argv) > 1 else DEFAULT_IMAGE
    built = docker("build", "--tag", image, ".", timeout=1200, show=True)
    if built.returncode != 0:
        return fail("the image did not build", built)
    expected = f"reconcile {version()}"
    printed = docker("run", "--rm", "--network", "none", image, "--version")
    if printed.returncode != 0 or printed.stdout.strip() != expected:
        return fail(f"`--version` did not print {expected!r}", printed)
    user = docker("run", "--rm", "--entrypoint", "id", image, "-u")
    if user.returncode != 0 or user.stdout.strip() in ("", "0"):
        return fail("the image's user is root (or unknown)", user)
    demo = docker(
        "run", "--rm", "--network", "none", image, "demo", timeout=DEMO_TIMEOUT, show=True
    )
    if demo.returncode != 0:
        return fail(f"`demo` exited {demo.returncode}", demo)
    print(f"image_smoke: {image} is {expected}, runs as uid {user.stdout.strip()}, demo converged")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
