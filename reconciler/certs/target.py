"""The cluster a new bundle is written for: its file paths and its key passphrase.

``certs csr``, ``install`` and ``issue`` write the files the cluster file's ``certs:`` names, so
the next plan picks the new bundle up without a change to the YAML. The passphrase comes from
the variable ``certs.key_passphrase_env`` names; when the cluster already has keys in git it
must decrypt them, or the new keys would be encrypted with a passphrase that CI (holding the
old one) cannot use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.desired.loader import readable_spec, resolve_cluster_names
from reconciler.desired.models import ClusterSpec
from reconciler.desired.pem import check_key_pem, decrypt_key
from reconciler.desired.source import DesiredSource, open_source
from reconciler.errors import ConfigError, MaterialError, SourceReadError
from reconciler.mmp.models import CertRole


@dataclass(frozen=True)
class BundleTarget:
    """One cluster's bundle paths (repo-relative) and the passphrase its keys get."""

    repo: Path
    spec: ClusterSpec
    passphrase: str = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def passphrase_env(self) -> str:
        return self.spec.certs.key_passphrase_env

    def path(self, role: CertRole) -> str:
        return self.spec.certs.file(role).path

    def pending_dir(self) -> Path:
        """Where ``certs csr`` keeps keys and CSRs until ``certs install`` (by default)."""
        return self.repo / "certs" / self.name / "csr"


def load_target(repo: Path, cluster: str, env: Mapping[str, str]) -> BundleTarget:
    """The cluster's bundle target; ``ConfigError`` when its file, overrides or passphrase
    would not let a new bundle be written safely."""
    with open_source(repo) as source:
        resolve_cluster_names(source, [cluster])
        spec = readable_spec(source, cluster)
        _refuse_overrides(spec)
        passphrase = _passphrase(spec, env)
        _check_passphrase(source, spec, passphrase)
    return BundleTarget(repo=repo, spec=spec, passphrase=passphrase)


def _refuse_overrides(spec: ClusterSpec) -> None:
    overridden = [
        f"nodes[{index}].certs ({node.name})"
        for index, node in enumerate(spec.nodes)
        if node.certs is not None
    ]
    if overridden:
        raise ConfigError(
            f"cluster {spec.name} gives nodes their own certificate files "
            f"({', '.join(overridden)}); the certs commands write the cluster-wide bundle "
            "(certs:) only, so they would leave those nodes on their old files: renew those "
            "by hand, or drop the overrides"
        )


def _passphrase(spec: ClusterSpec, env: Mapping[str, str]) -> str:
    name = spec.certs.key_passphrase_env
    value = env.get(name)
    if not value:
        state = "is empty" if value == "" else "is not set"
        raise ConfigError(
            f"environment variable {name} (named by certs.key_passphrase_env of cluster "
            f"{spec.name}) {state}; the new private keys are encrypted with it, never written "
            "in clear"
        )
    return value


def _check_passphrase(source: DesiredSource, spec: ClusterSpec, passphrase: str) -> None:
    """The passphrase must open the cluster's current keys, where there are readable ones."""
    name = spec.certs.key_passphrase_env
    for role in (CertRole.SERVER_KEY, CertRole.CLIENT_KEY):
        path = spec.certs.file(role).path
        try:
            block = check_key_pem(source.read_bytes(path), path)
        except (FileNotFoundError, SourceReadError, MaterialError):
            continue  # no usable key there now: nothing to compare with
        try:
            decrypt_key(block, passphrase, name)
        except MaterialError as error:
            raise ConfigError(
                f"{path} {error}. The new keys would be encrypted with the passphrase in "
                f"${name}, which is not the one the cluster's keys use now (and CI holds): "
                "set the right one; nothing was written"
            ) from None
