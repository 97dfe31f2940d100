"""Which clusters a set of changed paths touches: the pure core of ``reconcile clusters``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from reconciler.desired.changes import (
    ChangeSet,
    ClusterInputs,
    ClusterListing,
    PinFileVersions,
    changed_clusters,
    cluster_inputs,
    listing_json,
    listing_text,
    pins_changed,
    required_env,
)
from reconciler.desired.models import ClusterSpec


def host_key(seed: int) -> str:
    """A well-formed ssh-ed25519 public key (base64) that no server holds."""
    parts = (b"ssh-ed25519", bytes([seed]) * 32)
    return base64.b64encode(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).decode()


def spec(name: str = "lab", subnet: str = "10.0.0", **changes: Any) -> ClusterSpec:
    document: dict[str, Any] = {
        "name": name,
        "master": f"{subnet}.1",
        "nodes": [
            {"name": f"cms{n}", "address": f"{subnet}.{n}", "ssh_port": 2222} for n in (1, 2, 3)
        ],
        "ssh": {"username": "admin", "password_env": f"{name.upper()}_PASSWORD"},
        "certs": {
            "server_key": f"certs/{name}/server.key",
            "server_cert": f"certs/{name}/server.cer",
            "client_key": f"certs/{name}/client.key",
            "client_cert": f"certs/{name}/client.cer",
            "ca_cert": f"certs/{name}/ca.cer",
            "key_passphrase_env": f"{name.upper()}_KEY_PASS",
        },
    }
    document.update(changes)
    return ClusterSpec.model_validate(document)


def lab_and_other() -> list[ClusterInputs]:
    return [cluster_inputs("lab", spec()), cluster_inputs("other", spec("other", "10.0.1"))]


def names(clusters: list[ClusterInputs]) -> list[str]:
    return [cluster.name for cluster in clusters]


PINS = "".join(
    f"[10.0.{subnet}.{n}]:2222 ssh-ed25519 {host_key(10 * subnet + n)}\n"
    for subnet in (0, 1)
    for n in (1, 2, 3)
)
LAB_HOSTS = ("[10.0.0.1]:2222", "[10.0.0.2]:2222", "[10.0.0.3]:2222")


# --- env ---------------------------------------------------------------------------------


def test_env_is_password_key_file_passphrases_in_order_once_each() -> None:
    nodes = spec().model_dump()["nodes"]
    nodes[1]["certs"] = {"server_cert": "certs/lab/cms2.cer", "key_passphrase_env": "CMS2_PASS"}
    nodes[2]["certs"] = {"key_passphrase_env": "LAB_KEY_PASS"}  # the bundle's: listed once
    cluster = spec(
        ssh={"username": "a", "password_env": "LAB_PASSWORD", "key_file_env": "LAB_SSH_KEY"},
        nodes=nodes,
    )
    assert required_env(cluster) == ("LAB_PASSWORD", "LAB_SSH_KEY", "LAB_KEY_PASS", "CMS2_PASS")


def test_env_without_password() -> None:
    cluster = spec(ssh={"username": "a", "key_file_env": "LAB_SSH_KEY"})
    assert required_env(cluster) == ("LAB_SSH_KEY", "LAB_KEY_PASS")


# --- paths -------------------------------------------------------------------------------


def test_inputs_are_the_yaml_every_certificate_and_each_override() -> None:
    nodes = spec().model_dump()["nodes"]
    nodes[1]["certs"] = {"server_cert": "certs/lab/cms2.cer", "server_key": "certs/lab/cms2.key"}
    inputs = cluster_inputs("lab", spec(nodes=nodes))
    assert inputs.paths == {
        "clusters/lab.yaml",
        "certs/lab/server.key",
        "certs/lab/server.cer",
        "certs/lab/client.key",
        "certs/lab/client.cer",
        "certs/lab/ca.cer",
        "certs/lab/cms2.cer",
        "certs/lab/cms2.key",
    }
    assert inputs.known_hosts == "clusters/known_hosts"
    assert inputs.host_names == LAB_HOSTS


def test_host_names_as_known_hosts_writes_them() -> None:
    nodes = [
        {"name": "a", "address": "10.0.0.1"},
        {"name": "b", "address": "10.0.0.2", "ssh_host": "cms-b.example", "ssh_port": 2022},
        {"name": "c", "address": "10.0.0.3", "ssh_host": "cms-c.example"},
    ]
    inputs = cluster_inputs("lab", spec(nodes=nodes))
    assert inputs.host_names == ("10.0.0.1", "[cms-b.example]:2022", "cms-c.example")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("certs/lab/server.cer", ["lab"]),
        ("certs/lab/server.key", ["lab"]),  # the file the passphrase protects
        ("clusters/other.yaml", ["other"]),
        ("certs/shared/unused.cer", []),
        ("README.md", []),
    ],
)
def test_a_changed_path_counts_for_the_clusters_naming_it(path: str, expected: list[str]) -> None:
    assert names(changed_clusters(lab_and_other(), ChangeSet(frozenset({path})))) == expected


def test_a_shared_file_counts_for_every_cluster_naming_it() -> None:
    shared = {"ca_cert": "certs/shared/ca.cer"}
    clusters = [
        cluster_inputs("lab", spec(certs={**spec().certs.model_dump(), **shared})),
        cluster_inputs(
            "other", spec("other", "10.0.1", certs={**spec().certs.model_dump(), **shared})
        ),
    ]
    changes = ChangeSet(frozenset({"certs/shared/ca.cer"}))
    assert names(changed_clusters(clusters, changes)) == ["lab", "other"]


def test_a_cluster_that_does_not_load_always_counts() -> None:
    broken = cluster_inputs("typo", None)
    assert (broken.loaded, broken.env, broken.paths) == (
        False,
        (),
        frozenset({"clusters/typo.yaml"}),
    )
    clusters = [*lab_and_other(), broken]
    assert names(changed_clusters(clusters, ChangeSet(frozenset()))) == ["typo"]


# --- pins --------------------------------------------------------------------------------


def pins_change(new: str, old: str = PINS) -> list[str]:
    changes = ChangeSet(
        frozenset({"clusters/known_hosts"}),
        {"clusters/known_hosts": PinFileVersions(old, new)},
    )
    return names(changed_clusters(lab_and_other(), changes))


def test_a_changed_pin_counts_for_its_cluster_only() -> None:
    rekeyed = PINS.replace(host_key(12), host_key(99))  # other's cms2
    assert pins_change(rekeyed) == ["other"]
    assert pins_change(PINS + f"[10.0.0.4]:2222 ssh-ed25519 {host_key(4)}\n") == []
    assert pins_change(PINS + f"[10.0.0.2]:2222 ssh-ed25519 {host_key(98)}\n") == ["lab"]
    removed = "".join(line + "\n" for line in PINS.splitlines() if "10.0.0.3" not in line)
    assert pins_change(removed) == ["lab"]


def test_comments_order_and_blank_lines_are_not_pins() -> None:
    lines = PINS.splitlines()
    reordered = "\n".join(reversed(lines)) + "\n"
    commented = "# pinned 2026-12-01\n\n" + "\n".join(f"{line}  cms by ops" for line in lines)
    assert pins_change(reordered) == []
    assert pins_change(commented) == []


def test_a_pattern_or_hashed_name_counts_where_it_matches() -> None:
    assert pins_change(PINS + f"[10.0.1.*]:2222 ssh-ed25519 {host_key(97)}\n") == ["other"]
    assert pins_change(PINS + f"*,![10.0.1.*]:* ssh-ed25519 {host_key(97)}\n") == ["lab"]
    assert pins_change(PINS + f"cms-*.example ssh-ed25519 {host_key(97)}\n") == []
    salt = bytes(range(20))
    digest = hmac.new(salt, b"[10.0.0.1]:2222", hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    assert pins_change(PINS + f"{hashed} ssh-ed25519 {host_key(96)}\n") == ["lab"]


def test_a_revocation_counts_where_that_key_is_pinned() -> None:
    assert pins_change(PINS + f"@revoked * ssh-ed25519 {host_key(1)}\n") == ["lab"]
    assert pins_change(PINS + f"@revoked * ssh-ed25519 {host_key(77)}\n") == []
    revoked = PINS + f"@revoked * ssh-ed25519 {host_key(13)}\n"
    assert pins_change(PINS, old=revoked) == ["other"]  # un-revoked


def test_unreadable_pins_count_for_every_cluster_using_the_file() -> None:
    assert pins_change(PINS + "[10.0.9.9]:2222 ssh-ed25519 not-base64!\n") == ["lab", "other"]
    assert pins_change(PINS, old=PINS + "garbage\n") == ["lab", "other"]  # the fix, too
    created = ChangeSet(
        frozenset({"clusters/known_hosts"}),
        {"clusters/known_hosts": PinFileVersions(None, PINS)},
    )
    assert names(changed_clusters(lab_and_other(), created)) == ["lab", "other"]
    unknown = ChangeSet(frozenset({"clusters/known_hosts"}))  # texts not given: cannot tell
    assert names(changed_clusters(lab_and_other(), unknown)) == ["lab", "other"]


def test_pins_changed_for_no_host_names() -> None:
    assert not pins_changed(PinFileVersions(PINS, PINS + "# note\n"), ())


def test_a_cluster_using_another_pins_file_is_untouched() -> None:
    other = spec("other", "10.0.1", ssh={"username": "a", "password_env": "P", "known_hosts": "k"})
    clusters = [cluster_inputs("lab", spec()), cluster_inputs("other", other)]
    changes = ChangeSet(
        frozenset({"clusters/known_hosts"}),
        {"clusters/known_hosts": PinFileVersions(PINS, "")},
    )
    assert names(changed_clusters(clusters, changes)) == ["lab"]


# --- output ------------------------------------------------------------------------------


def test_json_is_a_matrix_and_text_one_line_each() -> None:
    listing = ClusterListing(
        clusters=(*lab_and_other(), cluster_inputs("typo", None)), where="w", since="main (1a2b)"
    )

    def slots(password: str, passphrase: str) -> list[dict[str, object]]:
        return [
            {"secret": "CMS_SSH_PASSWORD", "env": password, "file": False},
            {"secret": "CMS_KEY_PASSPHRASE", "env": passphrase, "file": False},
        ]

    assert listing_json(listing) == {
        "clusters": [
            {
                "name": "lab",
                "file": "clusters/lab.yaml",
                "env": ["LAB_PASSWORD", "LAB_KEY_PASS"],
                "secrets": slots("LAB_PASSWORD", "LAB_KEY_PASS"),
                "last_change": None,
            },
            {
                "name": "other",
                "file": "clusters/other.yaml",
                "env": ["OTHER_PASSWORD", "OTHER_KEY_PASS"],
                "secrets": slots("OTHER_PASSWORD", "OTHER_KEY_PASS"),
                "last_change": None,
            },
            {
                "name": "typo",
                "file": "clusters/typo.yaml",
                "env": [],
                "secrets": [],
                "last_change": None,
            },
        ],
        "removed": [],
    }
    assert listing_text(listing).splitlines() == [
        "lab    clusters/lab.yaml    needs LAB_PASSWORD, LAB_KEY_PASS",
        "other  clusters/other.yaml  needs OTHER_PASSWORD, OTHER_KEY_PASS",
        "typo   clusters/typo.yaml   does not load (reconcile validate --cluster typo says why)",
    ]


def test_text_when_none() -> None:
    assert listing_text(ClusterListing((), "w", "main (1a2b)")) == (
        "no cluster changed since main (1a2b)"
    )
    assert listing_text(ClusterListing((), "the working tree /r")) == (
        "no clusters/*.yaml in the working tree /r: give --repo DIR for a repository "
        "elsewhere, or make one with `reconcile init DIR`"
    )
