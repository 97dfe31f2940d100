"""GitHub, as the package knows it: the templates ``reconcile init`` writes, and the shapes of
output only GitHub reads (its comment size limit, workflow-command annotations, the SHA it
gives for "no commit before this push").

The templates: ``.github/``, one copy. What ``init`` writes under a new repository's
``.github/`` is this project's own ``.github/`` less ``NOT_COPIED`` (the project's tests, its
release and the lock's inputs) and less ``LOCK``, which ``init`` reads to compose the pin.
``template_root`` finds that folder:

- in a wheel, at ``reconciler/templates/github/``: the build puts the whole of ``.github/``
  there (``setup.py``, a ``build_py`` step; the sdist carries ``.github/``, MANIFEST.in);
- in a checkout (an editable install, or ``python -m reconciler`` from it), at the
  checkout's own ``.github/``, beside the ``reconciler`` package.

The build copies every file and the filter is applied here, when the files are read, so a
wheel and a checkout go through the same rule and cannot disagree about what ``init`` writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from reconciler.errors import ConfigError

FOLDER = ".github"
"""Where GitHub reads a repository's workflows, and where ``init`` writes the templates."""
PACKAGED = ("templates", "github")
"""Where a wheel carries ``.github/``, under the ``reconciler`` package (``setup.py``)."""
NOT_COPIED = (
    "workflows/test.yml",
    "requirements.in",
    "workflows/release.yml",
    "scripts/release-check.sh",
    "scripts/release-build.sh",
    "scripts/release-notes.sh",
    "scripts/release-github.sh",
    "release-requirements.in",
    "release-requirements.txt",
)
"""Never written by ``init``: the project's own tests (``make test``) and its lock's input,
and its release (docs/release.md), the release's scripts and build tools' lock: a GitOps
repository releases nothing."""
LOCK = "requirements.txt"
"""The project's lock of reconcile's dependencies: read by ``init`` to compose the pin
(``init_requirements``), never written as such."""

COMMENT_LIMIT = 65_536
"""GitHub refuses a comment body longer than this (``plan.render.comment`` keeps below it)."""

ZERO_SHA = re.compile(r"0{40}|0{64}")
"""What GitHub gives as ``github.event.before`` when a push creates a branch."""


# --- the templates ---------------------------------------------------------------------------


def template_root() -> Traversable:
    """The folder of ``.github/`` this installation carries: the wheel's copy, else the
    checkout's own; ``ConfigError`` when there is neither (a wheel built without them)."""
    packaged = files("reconciler").joinpath(*PACKAGED)
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / FOLDER / "workflows").is_dir():
        return checkout / FOLDER
    raise ConfigError(
        f"this installation of reconcile carries no {FOLDER}/ templates "
        f"(reconciler/{'/'.join(PACKAGED)}/, or {FOLDER}/ beside the package in a checkout): "
        "reinstall it from a wheel or sdist built with setup.py"
    )


def template_files() -> dict[str, bytes]:
    """Every template ``init`` reads, by path relative to ``.github/`` (``workflows/plan.yml``),
    the lock included, less ``NOT_COPIED``."""
    return {
        path: entry.read_bytes()
        for path, entry in _walk(template_root(), "")
        if path not in NOT_COPIED
    }


def written_files() -> dict[str, bytes]:
    """What ``init`` writes under ``.github/``: the templates less the lock."""
    return {path: data for path, data in template_files().items() if path != LOCK}


def project_lock() -> str:
    """The lock of this release's dependencies (the project's ``.github/requirements.txt``)."""
    return template_root().joinpath(LOCK).read_text()


def _walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _walk(entry, f"{path}/")
        else:
            yield path, entry


# --- workflow commands -----------------------------------------------------------------------


def annotation(
    command: str, message: str, *, file: str, line: int | None = None, col: int | None = None
) -> str:
    """A workflow-command annotation (``command``: ``error``, ``warning`` or ``notice``):
    ``::error file=clusters/lab.yaml,line=7,col=5::message``; ``col`` only with ``line``.

    https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    """
    properties = [f"file={_escape_property(file)}"]
    if line is not None:
        properties.append(f"line={line}")
        if col is not None:
            properties.append(f"col={col}")
    return f"::{command} {','.join(properties)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
