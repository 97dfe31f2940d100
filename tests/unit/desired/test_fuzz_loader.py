"""Fuzzing: a cluster file of any content becomes findings, never an exception.

The cluster file arrives in a pull request, so the loader is the first thing hostile input
meets. It reads the file from a real working tree (symlink and path checks included), so
a file name the YAML invents (``../x``, a NUL byte, a directory) goes through the same code
as in a run. The inputs are the valid test cluster with values replaced by arbitrary YAML
values, keys dropped or invented, and its text spliced with YAML-significant junk.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.desired.loader import load_cluster
from reconciler.desired.source import WorkingTreeSource
from reconciler.errors import ConfigError
from tests.support.documents import key_paths
from tests.unit.desired.labrepo import CLUSTER, ENV, good_doc
from tests.unit.desired.pki import NOW

EXAMPLES = 200

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "../../etc/passwd",
            "/etc/passwd",
            "certs/t/server.key\x00",
            "certs/t/a b;reboot.key",
            "certs/t",
            "clusters",
            "a\nb",
            "10.0.0.1",
            "::1",
            "-oProxyCommand=x",
            "300s",
            "0s",
            "99999999999999d",
            "é",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
JUNK = [":", ": ", "- ", "&a ", "*a", "<<: ", "!!python/object:os.system ", "{", "[", "]", "'"]
JUNK += ['"', "\t", "\x00", "\x85", "\ufeff", "%YAML 1.1\n", "---\n", "...\n", "#", "|", ">"]


JUNK_NAMES = ["\x00", "\n", ";", " ", "../", "/", "é", "$(x)", "-o"]
# Mostly the characters that matter, sometimes anything: hypothesis favours the simple.
HOSTILE_NAMES = st.one_of(*[st.sampled_from(JUNK_NAMES)] * 3, st.text(max_size=6)).flatmap(
    lambda junk: st.sampled_from(
        [junk, f"certs/t/{junk}server.key", f"certs/t/server{junk}.key", f"{junk}/x.cer"]
    )
)
# Where a name reaches a command line, an SFTP path or a file read.
NAMED = [
    ("certs", "server_key"),
    ("certs", "ca_cert"),
    ("ssh", "known_hosts"),
    ("ssh", "username"),
    ("nodes", 0, "name"),
    ("nodes", 1, "ssh_host"),
    ("nodes", 2, "certs"),
    ("name",),
]


@st.composite
def hostile_name(draw: st.DrawFn) -> str:
    """One file, node or host name replaced by a hostile one."""
    doc: Any = copy.deepcopy(good_doc())
    path = draw(st.sampled_from(NAMED))
    name = draw(HOSTILE_NAMES)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if path[-1] == "certs":  # a per-node override, by path or with a remote name
        role = draw(st.sampled_from(["server_cert", "client_key"]))
        original = doc["certs"][role]
        parent["certs"] = {
            role: draw(st.sampled_from([name, {"path": original, "remote_name": name}]))
        }
    else:
        parent[path[-1]] = name
    event(f"hostile name in {'.'.join(map(str, path))}")
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@st.composite
def structural(draw: st.DrawFn) -> str:
    """The valid document with up to three values replaced, deleted or keys added."""
    doc: Any = copy.deepcopy(good_doc())
    # Zero changes too: the valid branch must be reachable on every run, not by luck.
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(key_paths(doc)))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        kind = draw(st.sampled_from(["replace", "delete", "add"]))
        event(f"structural: {kind}")
        if kind == "replace":
            parent[path[-1]] = draw(values)
        elif kind == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        else:
            parent.append(draw(values))
        if not key_paths(doc):
            break
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@st.composite
def textual(draw: st.DrawFn) -> str:
    """The valid file's text with junk spliced in or characters cut."""
    text = yaml.safe_dump(good_doc(), sort_keys=False)
    # Zero splices too: the valid branch must be reachable on every run, not by luck.
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 4))
        junk = draw(st.one_of(st.sampled_from(JUNK), st.text(max_size=6)))
        text = text[:at] + junk + text[at + cut :]
    event("textual")
    return text


def _remembering_key_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decrypt each distinct key once: key derivation is most of a valid load's time, and
    what is fuzzed here is the YAML, not the key files (the same bytes give the same key)."""
    load = serialization.load_pem_private_key
    seen: dict[tuple[bytes, bytes | None], Any] = {}

    def remembered(data: bytes, password: bytes | None, **kwargs: Any) -> Any:
        if (bytes(data), password) not in seen:
            seen[bytes(data), password] = load(data, password, **kwargs)
        return seen[bytes(data), password]

    monkeypatch.setattr(serialization, "load_pem_private_key", remembered)


KINDS = {
    "structural": "values replaced, keys dropped or invented",
    "textual": "text spliced with YAML-significant junk",
    "hostile_name": "hostile file, node and host names",
}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            kind,
            marks=pytest.mark.reliability(
                section="fuzzing",
                case=f"cluster-file loader, {what}: findings, never an exception",
            ),
        )
        for kind, what in KINDS.items()
    ],
)
def test_loader_raises_nothing_for_any_cluster_file(
    kind: str,
    base_files: dict[str, bytes],
    record_property: Callable[[str, object], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _remembering_key_loads(monkeypatch)
    documents: st.SearchStrategy[str] = globals()[kind]()
    outcomes = {"valid": 0, "findings": 0}
    with TemporaryDirectory() as folder:
        root = Path(folder)
        for relative, data in base_files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(data)
        cluster_file = root / "clusters" / f"{CLUSTER}.yaml"

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(documents)
        def run(text: str) -> None:
            cluster_file.write_text(text, errors="surrogatepass")

            try:
                result = load_cluster(WorkingTreeSource(root), CLUSTER, env=ENV, now=NOW)
            except ConfigError as error:  # allowed, but must be a sentence, not a repr
                refusal: str | None = str(error).strip()
            else:
                refusal = None
            if refusal is not None:
                assert refusal
                outcomes["findings"] += 1
                event("ConfigError")
                return
            errors = [f for f in result.findings if f.severity == "error"]
            assert (result.cluster is None) == bool(errors)
            assert all(f.message.strip() for f in result.findings)
            if errors:
                outcomes["findings"] += 1
                event(f"refused: {errors[0].key.split('.')[0].split('[')[0] or '(file)'}")
            else:
                outcomes["valid"] += 1
                event("valid cluster")

        run()
    record_property("examples", outcomes["valid"] + outcomes["findings"])
    assert outcomes["valid"] > 0, "no mutation left a valid cluster: the fuzzing is too blunt"
    assert outcomes["findings"] > 0
