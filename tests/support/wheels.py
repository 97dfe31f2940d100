"""Wheels and pip settings for the tests of what ``reconcile init`` pins: a small but valid
wheel pip accepts from a ``--find-links`` folder, and an environment in which pip asks no index
and reads none of this machine's pip settings (its config adds local wheel folders and indexes).
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

# Each of this machine's pip settings that would add a place to look, or a constraint.
MACHINE_PIP = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT")


def offline_pip_env(
    find_links: Path | None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (default: this process's environment) with pip held to ``find_links`` alone
    (None: nowhere), no index, no config file."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in MACHINE_PIP}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    if find_links is not None:
        env["PIP_FIND_LINKS"] = str(find_links)
    return env


def hold_pip_offline(monkeypatch: pytest.MonkeyPatch, find_links: Path | None) -> None:
    """This process's environment (what the CLI's pip inherits) as ``offline_pip_env``'s."""
    for key in MACHINE_PIP:
        monkeypatch.delenv(key, raising=False)
    for key, value in offline_pip_env(find_links, {}).items():
        monkeypatch.setenv(key, value)


def record_hash(data: bytes) -> str:
    """A file's hash as a wheel's RECORD (and an installed distribution's) writes it."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    folder: Path,
    version: str,
    *,
    name: str = "cms-reconciler",
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """A pure-Python wheel of ``name`` ``version`` in ``folder``, holding ``files`` (default: a
    ``reconciler/__init__.py`` saying the version), with its METADATA, WHEEL and RECORD."""
    stem = f"{name.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    content = dict(files or {"reconciler/__init__.py": f'__version__ = "{version}"\n'.encode()})
    content[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    content[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(
        f"{path},sha256={record_hash(data)},{len(data)}\n" for path, data in content.items()
    )
    content[f"{dist_info}/RECORD"] = f"{record}{dist_info}/RECORD,,\n".encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in content.items():
            archive.writestr(member, data)
    return path
