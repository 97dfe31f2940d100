"""What a repository made by ``reconcile init`` installs on its runners: the pin.

``.github/reconcile-requirements.txt`` is installed by the setup action with ``pip install
--require-hashes --only-binary :all: --no-deps`` (``.github/scripts/install-reconcile.sh``), so
every requirement line carries ``--hash``: cms-reconciler itself, then every dependency this
release locks (the project's own ``.github/requirements.txt``, shipped as package data), less
setuptools, which only building a source needs.

Where cms-reconciler comes from (``--requirement SPEC``):

- by default, this release from the package index the user's pip is configured for: ``pip
  download`` (so PIP_INDEX_URL, PIP_FIND_LINKS, pip.conf and internal mirrors count), the wheel
  hashed. When this reconcile was installed from a wheel, the index's wheel must hold exactly
  its files (a squatted or altered release is not pinned). When pip cannot fetch it (not
  published yet, no network), nothing is pinned and init says what to do;
- a wheel file: copied to ``.github/wheels/`` and pinned by path and hash (no index needed);
- the https URL of a wheel: hashed from its ``#sha256=`` fragment, else downloaded;
- ``cms-reconciler==VERSION``: from the configured (internal) index, like the default;
- ``git+https://HOST/PATH@COMMIT``: pip cannot hash a checkout (``--require-hashes`` refuses
  it), so the hashed file holds the dependencies and the locked setuptools, and
  ``.github/reconcile-git.txt`` names the commit, built afterwards with ``--no-deps
  --no-build-isolation``; only a full commit id is accepted (a branch or tag moves).

A SPEC that cannot be pinned is an ``OptionError``, raised before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler.errors import ConfigError, OptionError

PACKAGE = "cms-reconciler"
REQUIREMENTS = ".github/reconcile-requirements.txt"
GIT_REQUIREMENT = ".github/reconcile-git.txt"
WHEELS = ".github/wheels"
OPTION = "--requirement"
SPEC_KINDS = (
    "a wheel file, the https URL of one, cms-reconciler==VERSION from your package index, "
    "or git+https://HOST/PATH@COMMIT"
)
BUILD_BACKEND = "setuptools"  # locked for the project's own source build, and for a git pin
PIP_TIMEOUT = 600  # seconds for one `pip download`; pip's own network timeouts come first

_WHEEL_NAME = re.compile(
    r"(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.!+]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl"
)
_INDEX_SPEC = re.compile(r"cms[-_.]reconciler\s*==\s*(?P<version>[A-Za-z0-9_.!+-]+)", re.I)
_NAMED_URL = re.compile(r"cms[-_.]reconciler\s*@\s*(?P<url>\S+)", re.I)
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHA256 = re.compile(r"sha256=(?P<hash>[0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Pin:
    """A pin to write: its files (repository path to content) and what it pins, in words."""

    files: Mapping[str, bytes]
    what: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unpinned:
    """The default pin could not be made: ``reason`` says why (pip's last error line)."""

    requirement: str
    reason: str


@dataclass(frozen=True)
class _Release:
    """How cms-reconciler itself is named in the hashed file (or in the git file)."""

    line: str  # the requirement, as written ("" for a git commit: it goes to GIT_REQUIREMENT)
    what: str
    version: str | None  # None: a git commit's, unknown here
    files: dict[str, bytes] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


class _PipFailed(Exception):
    """No wheel to pin: the message says why (pip's last error line, or what was wrong)."""


# --- the lock ------------------------------------------------------------------------------


def locked_dependencies(lock: str, *, build_backend: bool) -> list[str]:
    """The lock's pins, each as pip-compile writes it (``name==version`` and its hashes, one per
    line); setuptools only with ``build_backend``."""
    joined = re.sub(r"\\\n", " ", lock)
    pins = []
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line or line.startswith("-"):
            continue
        requirement, _, options = line.partition(" --")
        hashes = [o for o in f"--{options}".split() if o.startswith("--hash=")] if options else []
        name = _canonical(re.split(r"[\s=<>!~;\[@]", requirement, maxsplit=1)[0])
        if not hashes:
            raise ConfigError(f"the lock this release ships pins {requirement} without a hash")
        if name == BUILD_BACKEND and not build_backend:
            continue
        pins.append(" \\\n    ".join([requirement.strip(), *hashes]))
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- choosing the pin -------------------------------------------------------------------------


def pin_release(
    spec: str | None,
    version: str,
    lock: str,
    *,
    env: Mapping[str, str],
    pythons: Sequence[str] | None = None,
) -> Pin | Unpinned:
    """The pin of ``spec`` (None: this release from the configured index).

    ``version`` is this reconcile's; ``lock`` the text of the lock it ships; ``env`` what pip
    runs with; ``pythons`` the interpreters whose pip may download (default: this one, then
    ``python3`` on PATH). Raises ``OptionError`` for a SPEC that cannot be pinned.
    """
    candidates = list(pythons) if pythons is not None else _pythons()
    if spec is None:
        requirement = f"{PACKAGE}=={version}"
        try:
            release = _from_index(requirement, version, env, candidates, verify=True)
        except _PipFailed as error:
            return Unpinned(requirement, str(error))
    else:
        release = _from_spec(spec.strip(), version, env, candidates)
    return _compose(release, version, lock)


def _from_spec(spec: str, version: str, env: Mapping[str, str], pythons: Sequence[str]) -> _Release:
    if not spec:
        raise _refused(spec, f"empty; give {SPEC_KINDS}")
    named = _NAMED_URL.fullmatch(spec)
    target = named["url"] if named else spec
    if target.startswith("git+"):
        return _from_git(spec, target)
    if "://" in target:
        return _from_url(spec, target, version, env, pythons)
    if target.endswith(".whl") or os.sep in target or Path(target).exists():
        return _from_wheel_file(spec, Path(target).expanduser(), version)
    index = _INDEX_SPEC.fullmatch(spec)
    if index is None:
        raise _refused(spec, f"not a SPEC init knows; give {SPEC_KINDS}")
    try:
        return _from_index(f"{PACKAGE}=={index['version']}", version, env, pythons, verify=False)
    except _PipFailed as error:
        raise _refused(spec, str(error)) from None


def _refused(spec: str, why: str) -> OptionError:
    return OptionError(f"{OPTION} {spec}: {why}")


def _from_index(
    requirement: str,
    version: str,
    env: Mapping[str, str],
    pythons: Sequence[str],
    *,
    verify: bool,
) -> _Release:
    filename, data = _download(requirement, env, pythons)
    wheel_version = _wheel_version(filename)
    if wheel_version is None:
        raise _PipFailed(f"pip downloaded {filename}, which is not a {PACKAGE} wheel")
    notes = []
    if verify:
        notes.append(_same_as_running(filename, data))
    digest = hashlib.sha256(data).hexdigest()
    return _Release(
        line=f"{requirement} \\\n    --hash=sha256:{digest}",
        what=(
            f"{PACKAGE} {wheel_version} from the package index pip is configured for "
            f"({filename}, sha256 {digest[:16]}...); the runners' pip must reach the same "
            "index (PyPI unless pip.conf or PIP_INDEX_URL on the runner names another)"
        ),
        version=wheel_version,
        notes=tuple(note for note in notes if note),
    )


def _from_wheel_file(spec: str, path: Path, version: str) -> _Release:
    if not path.is_file():
        why = "not a file" if path.exists() else "no such file"
        raise _refused(spec, f"{why}; give the path of a {_wheel_example(version)}")
    wheel_version = _wheel_version(path.name)
    if wheel_version is None:
        raise _refused(
            spec,
            f"not a {PACKAGE} wheel (its name would be {_wheel_example(version)}); build one "
            "in a checkout with `python -m build --wheel`",
        )
    data = path.read_bytes()
    if not _holds_package_metadata(data):
        raise _refused(spec, f"not a {PACKAGE} wheel (no {PACKAGE} metadata inside)")
    target = f"{WHEELS}/{path.name}"
    digest = hashlib.sha256(data).hexdigest()
    return _Release(
        line=f"{target} \\\n    --hash=sha256:{digest}",
        what=(
            f"{PACKAGE} {wheel_version}, the wheel file {target} (sha256 {digest[:16]}...), "
            "installed from the repository itself: no index serves it"
        ),
        version=wheel_version,
        files={target: data},
    )


def _from_url(
    spec: str, url: str, version: str, env: Mapping[str, str], pythons: Sequence[str]
) -> _Release:
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise _refused(spec, "give an https URL (or a git+https URL with a commit)")
    if "@" in parts.netloc:
        raise _refused(
            spec,
            "the URL holds credentials, which would be committed; give them "
            "to pip on the runner (netrc or keyring) instead",
        )
    if parts.query:
        raise _refused(
            spec,
            "a URL with a query (?...) may hold a token, which would be "
            "committed; give the plain https URL of the wheel",
        )
    filename = parts.path.rsplit("/", 1)[-1]
    wheel_version = _wheel_version(filename)
    if wheel_version is None:
        raise _refused(
            spec, f"the URL does not end in a {PACKAGE} wheel ({_wheel_example(version)})"
        )
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    fragment = _SHA256.fullmatch(parts.fragment)
    if parts.fragment and fragment is None:
        raise _refused(spec, "the only fragment understood is #sha256=<64 hex digits>")
    if fragment is not None:
        digest, source = fragment["hash"].lower(), "from the URL's #sha256="
    else:
        try:
            _, data = _download(f"{PACKAGE} @ {plain}", env, pythons)
        except _PipFailed as error:
            raise _refused(spec, str(error)) from None
        digest, source = hashlib.sha256(data).hexdigest(), "of the file downloaded now"
    return _Release(
        line=f"{PACKAGE} @ {plain} \\\n    --hash=sha256:{digest}",
        what=f"{PACKAGE} {wheel_version} from {plain} (sha256 {digest[:16]}..., {source})",
        version=wheel_version,
    )


def _from_git(spec: str, url: str) -> _Release:
    parts = urlsplit(url.removeprefix("git+"))
    if parts.scheme not in ("https", "ssh"):
        raise _refused(spec, "give git+https://HOST/PATH@COMMIT (or git+ssh://)")
    if parts.scheme == "https" and "@" in parts.netloc:
        raise _refused(
            spec,
            "the URL holds credentials, which would be committed; give them "
            "to git on the runner instead",
        )
    if parts.query or parts.fragment:
        raise _refused(spec, "give git+https://HOST/PATH@COMMIT, with no ?query or #fragment")
    repository, at, ref = parts.path.rpartition("@")
    if not at:
        raise _refused(
            spec,
            "names no commit: add @ and the full commit id (a branch or tag "
            "can move); `git rev-parse REF` prints it",
        )
    if not _COMMIT.fullmatch(ref.lower()):
        raise _refused(
            spec,
            f"{ref!r} is a branch, tag or short commit id, which can name "
            "another tree tomorrow; give the full commit id (`git rev-parse "
            f"{ref}`)",
        )
    ref = ref.lower()
    location = urlunsplit((f"git+{parts.scheme}", parts.netloc, f"{repository}@{ref}", "", ""))
    text = (
        "# The reconcile the setup action installs after the hashed dependencies of\n"
        "# reconcile-requirements.txt (.github/scripts/install-reconcile.sh): built from this\n"
        "# commit with --no-deps --no-build-isolation --no-index, so with the locked setuptools\n"
        "# and nothing fetched but the commit. pip cannot hash a git checkout (--require-hashes\n"
        "# refuses it), but a full commit id names exactly one tree: it is still a pin, where a\n"
        "# branch or a tag would not be. Written by `reconcile init --requirement`.\n"
        f"{PACKAGE} @ {location}\n"
    )
    return _Release(
        line="",
        what=(
            f"{PACKAGE} built from commit {ref} of {parts.netloc}{repository} "
            f"({GIT_REQUIREMENT}; a git checkout has no hash: the full commit id pins it)"
        ),
        version=None,
        files={GIT_REQUIREMENT: text.encode()},
        notes=(
            "the version at that commit is not checked here: the runner's `pip check` fails "
            "if it needs dependencies other than those this release locks",
        ),
    )


# --- the files -------------------------------------------------------------------------------


def _compose(release: _Release, version: str, lock: str) -> Pin:
    from_git = not release.line
    dependencies = locked_dependencies(lock, build_backend=from_git)
    paragraphs = [
        "What .github/actions/setup installs on the runners (.github/scripts/"
        "install-reconcile.sh: pip install --require-hashes --only-binary :all: --no-deps): "
        "every requirement carries the sha256 of each file pip may install.",
        f"Pinned: {release.what}. Then every dependency reconcile {version} locks (its "
        ".github/requirements.txt)"
        + (", and setuptools to build the commit." if from_git else "."),
        "To change the pin, by pull request: delete this file (and .github/reconcile-git.txt, "
        ".github/wheels/ if there) and run `reconcile init --requirement SPEC`, SPEC being "
        f"{SPEC_KINDS}.",
    ]
    header = [
        "\n".join(
            textwrap.wrap(
                text,
                width=95,
                initial_indent="# ",
                subsequent_indent="# ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
        for text in paragraphs
    ]
    lines = [*header, *([release.line] if release.line else []), *dependencies]
    notes = list(release.notes)
    if release.version is not None and release.version != version:
        notes.append(
            f"this pins {PACKAGE} {release.version} while this reconcile is {version}: the "
            f"workflows, scripts and locked dependencies written here are {version}'s (the "
            "runner's `pip check` fails if the pinned release needs others)"
        )
    files = {**release.files, REQUIREMENTS: ("\n".join(lines) + "\n").encode()}
    return Pin(files=files, what=release.what, notes=tuple(notes))


def _wheel_version(filename: str) -> str | None:
    match = _WHEEL_NAME.fullmatch(filename)
    if match is None or _canonical(match["name"]) != PACKAGE:
        return None
    return match["version"]


def _wheel_example(version: str) -> str:
    return f"cms_reconciler-{version}-py3-none-any.whl"


def _holds_package_metadata(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if re.fullmatch(r"[^/]+\.dist-info/METADATA", name):
                    headers = BytesHeaderParser().parsebytes(archive.read(name))
                    return _canonical(headers.get("Name", "")) == PACKAGE
    except (zipfile.BadZipFile, OSError):
        return False
    return False


# --- pip -------------------------------------------------------------------------------------


def _pythons() -> list[str]:
    """This interpreter, then ``python3`` on PATH: a pipx venv made with pipx's uv backend (or
    any venv made without pip) has no pip of its own; a wheel of this package is pure Python,
    so any pip downloads the same file."""
    candidates = [sys.executable]
    other = shutil.which("python3")
    if other and os.path.realpath(other) != os.path.realpath(sys.executable):
        candidates.append(other)
    return candidates


def _download(
    requirement: str, env: Mapping[str, str], pythons: Sequence[str]
) -> tuple[str, bytes]:
    """One wheel of ``requirement`` from the configured index: its file name and content."""
    failure = "there is no Python to run pip with"
    for python in pythons:
        with tempfile.TemporaryDirectory(prefix="reconcile-init-") as folder:
            command = [
                python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
                "--dest", folder, requirement,
            ]  # fmt: skip
            try:
                run = subprocess.run(  # noqa: S603 (a fixed command, no shell)
                    command,
                    env=dict(env),
                    capture_output=True,
                    text=True,
                    timeout=PIP_TIMEOUT,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                failure = f"{python} -m pip did not run ({error})"
                continue
            if "No module named pip" in run.stderr:
                failure = (
                    f"{python} has no pip (a pipx venv made with pipx's uv backend, or a venv "
                    "made without pip)"
                )
                continue
            wheels = sorted(Path(folder).glob("*.whl"))
            if run.returncode != 0 or len(wheels) != 1:
                why = _last_error(run.stderr) or f"pip exited {run.returncode}"
                raise _PipFailed(f"pip could not download it ({why})")
            return wheels[0].name, wheels[0].read_bytes()
    raise _PipFailed(f"pip could not download it: {failure}")


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or [""])[-1]


# --- the running reconcile's files -----------------------------------------------------------


def installed_files() -> dict[str, str] | None:
    """This reconcile's package files as installed from a wheel (path to RECORD's sha256), or
    None when it was not (a checkout, an editable install: their RECORD lists no such file)."""
    try:
        files = distribution(PACKAGE).files or []
    except PackageNotFoundError:
        return None
    hashed = {
        str(path): path.hash.value
        for path in files
        if path.hash is not None and path.hash.mode == "sha256" and _is_package_file(str(path))
    }
    return hashed or None


def _is_package_file(path: str) -> bool:
    return path.startswith("reconciler/") and "__pycache__" not in path


def _same_as_running(filename: str, data: bytes) -> str:
    """A note when the wheel cannot be compared with the running reconcile's installed files,
    "" when it holds exactly them; raises ``_PipFailed`` when it does not."""
    mine = installed_files()
    if mine is None:
        return (
            "the index's wheel was not compared with this reconcile, which was not installed "
            "from a wheel (a checkout); check its sha256 against the release's"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            theirs = {
                name: _record_hash(archive.read(name))
                for name in archive.namelist()
                if _is_package_file(name) and not name.endswith("/")
            }
    except zipfile.BadZipFile:
        raise _PipFailed(f"the index's {filename} is not a valid wheel") from None
    differing = sorted(
        path for path in mine.keys() | theirs.keys() if mine.get(path) != theirs.get(path)
    )
    if differing:
        raise _PipFailed(
            f"the index's {filename} is not the reconcile running here ({differing[0]} "
            f"differs{f', and {len(differing) - 1} more' if len(differing) > 1 else ''})"
        )
    return ""


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# --- what init says ------------------------------------------------------------------------


def render_pin(pin: Pin | Unpinned | None) -> list[str]:
    """init's lines about the pin: what it is and how to change it, or what to do first."""
    change = (
        f"to change it, delete {REQUIREMENTS} and run `reconcile init {OPTION} SPEC` ({SPEC_KINDS})"
    )
    if pin is None:
        return [f"pin      kept {REQUIREMENTS} (its header says what it pins); {change}"]
    if isinstance(pin, Pin):
        lines = [f"pin      {pin.what}", f"         {change}"]
        return lines + [f"note     {note}" for note in pin.notes]
    return [
        f"pin      MISSING: {REQUIREMENTS} was not written: {pin.requirement}: {pin.reason}",
        "Do this first: every workflow fails at its setup step until that file exists. Pin "
        f"the reconcile they install with `reconcile init {OPTION} SPEC` ({SPEC_KINDS}); "
        "only the missing file is written.",
    ]
