"""Resolve and check every node's certificate bundle, offline.

A rotation that fails half way because a new certificate was wrong leaves a cluster down, so
everything the MMP or PostgreSQL would refuse is refused here, before any command is sent.
Each file is read, parsed and decrypted once; findings about a file shared by every node
carry no node, findings about a node's override carry that node's address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID

from reconciler.desired import certcheck
from reconciler.desired.certcheck import Problem
from reconciler.desired.findings import FindingList
from reconciler.desired.models import CertFileSpec, ClusterSpec, NodeSpec, remote_name_problem
from reconciler.desired.pem import check_key_pem, decrypt_key, load_certificates, unencrypted_pkcs8
from reconciler.desired.source import DesiredSource
from reconciler.desired.state import CertFile, CertInfo, KeyInfo, NodeBundle
from reconciler.errors import MaterialError, SourceReadError
from reconciler.mmp.models import CertRole

ROLE_LABEL = {
    CertRole.SERVER_KEY: "server key",
    CertRole.SERVER_CERT: "server certificate",
    CertRole.CLIENT_KEY: "client key",
    CertRole.CLIENT_CERT: "client certificate",
    CertRole.CA_CERT: "CA file",
}
_PAIRS = ((CertRole.SERVER_KEY, CertRole.SERVER_CERT), (CertRole.CLIENT_KEY, CertRole.CLIENT_CERT))


@dataclass(frozen=True)
class _Use:
    """One role of one node: which file, and where the YAML declares it."""

    role: CertRole
    file: CertFileSpec
    key: str
    override: bool

    @property
    def label(self) -> str:
        return f"{ROLE_LABEL[self.role]} {self.file.path}"


@dataclass(frozen=True)
class _Key:
    key: PrivateKeyTypes
    upload: bytes


class BundleChecker:
    """Checks the bundles of one cluster; ``check()`` returns the bundle of each node."""

    def __init__(
        self,
        spec: ClusterSpec,
        source: DesiredSource,
        env: Mapping[str, str],
        now: datetime,
        findings: FindingList,
        *,
        check_key_consistency: bool = True,
    ) -> None:
        self.spec = spec
        self.check_key_consistency = check_key_consistency  # see pem.decrypt_key
        self.source = source
        self.env = env
        self.now = now
        self.findings = findings
        self._raw: dict[str, bytes | str] = {}
        self._certs: dict[str, list[x509.Certificate] | str] = {}
        self._keys: dict[tuple[str, str], _Key | str | None] = {}
        self.files_read: set[str] = set()

    # -- public ---------------------------------------------------------------------------

    def check(self) -> dict[str, NodeBundle]:
        """Bundles by node address, for nodes whose five files all loaded."""
        bundles: dict[str, NodeBundle] = {}
        ca_by_node: list[tuple[int, NodeSpec, _Use, frozenset[bytes]]] = []
        for index, node in enumerate(self.spec.nodes):
            bundle, ca_fingerprints = self._node(index, node)
            if bundle is not None:
                bundles[node.address] = bundle
            if ca_fingerprints is not None:
                ca_by_node.append(
                    (index, node, self._uses(index, node)[CertRole.CA_CERT], ca_fingerprints)
                )
        self._same_ca(ca_by_node)
        return bundles

    # -- per node -------------------------------------------------------------------------

    def _uses(self, index: int, node: NodeSpec) -> dict[CertRole, _Use]:
        uses: dict[CertRole, _Use] = {}
        for role in CertRole:
            override = node.certs.file(role) if node.certs else None
            if override is not None:
                uses[role] = _Use(role, override, f"nodes[{index}].certs.{role.value}", True)
            else:
                uses[role] = _Use(role, self.spec.certs.file(role), f"certs.{role.value}", False)
        return uses

    def _passphrase_key(self, index: int, node: NodeSpec) -> tuple[str, str, bool]:
        if node.certs is not None and node.certs.key_passphrase_env is not None:
            return (node.certs.key_passphrase_env, f"nodes[{index}].certs.key_passphrase_env", True)
        return self.spec.certs.key_passphrase_env, "certs.key_passphrase_env", False

    def _node(
        self, index: int, node: NodeSpec
    ) -> tuple[NodeBundle | None, frozenset[bytes] | None]:
        uses = self._uses(index, node)
        env_name, env_key, env_override = self._passphrase_key(index, node)
        self._remote_names(node, uses)

        keys: dict[CertRole, _Key] = {}
        certs: dict[CertRole, list[x509.Certificate]] = {}
        for role, use in uses.items():
            if role.is_key:
                loaded_key = self._load_key(node, use, env_name, env_key, env_override)
                if loaded_key is not None:
                    keys[role] = loaded_key
            else:
                loaded = self._load_certs(node, use)
                if loaded is not None:
                    certs[role] = loaded

        self._leaf_checks(node, uses, certs)
        self._ca_checks(node, uses[CertRole.CA_CERT], certs.get(CertRole.CA_CERT))
        self._pair_checks(node, uses, keys, certs)
        self._chain_checks(node, uses, certs)

        ca = certs.get(CertRole.CA_CERT)
        fingerprints = frozenset(cert.fingerprint(hashes.SHA256()) for cert in ca) if ca else None
        if len(keys) + len(certs) < len(CertRole):
            return None, fingerprints
        files = {
            role: self._cert_file(uses[role], keys.get(role), certs.get(role)) for role in CertRole
        }
        return NodeBundle(**{role.value: files[role] for role in CertRole}), fingerprints

    def _node_id(self, node: NodeSpec, *overridden: bool) -> str | None:
        return node.address if any(overridden) else None

    def _report(self, use_key: str, node: str | None, problems: list[Problem]) -> None:
        for problem in problems:
            self.findings.add(problem.severity, use_key, problem.message, node)

    # -- remote names ---------------------------------------------------------------------

    def _remote_names(self, node: NodeSpec, uses: dict[CertRole, _Use]) -> None:
        claimed: dict[str, _Use] = {}
        for use in uses.values():
            name = use.file.effective_remote_name
            node_id = self._node_id(node, use.override)
            if use.file.remote_name is None:
                problem = remote_name_problem(name)
                if problem:
                    self.findings.error(
                        use.key,
                        f"{use.label}: its basename {name!r} would be the file name on the "
                        f"MMP, but it {problem}; rename the file or set remote_name",
                        node_id,
                    )
            first = claimed.get(name)
            if first is not None and first.file.path != use.file.path:
                self.findings.error(
                    use.key,
                    f"remote file name {name!r} of {use.role.value} ({use.file.path}) is also "
                    f"used by {first.role.value} ({first.file.path}); one upload would "
                    "overwrite the other: set a distinct remote_name",
                    self._node_id(node, use.override, first.override),
                )
            claimed.setdefault(name, use)

    # -- loading --------------------------------------------------------------------------

    def _read(self, path: str) -> bytes | str:
        if path not in self._raw:
            self.files_read.add(path)
            try:
                self._raw[path] = self.source.read_bytes(path)
            except FileNotFoundError:
                self._raw[path] = f"does not exist in {self.source.describe()}"
            except SourceReadError as error:
                self._raw[path] = f"cannot be used: {error}"
        return self._raw[path]

    def _load_certs(self, node: NodeSpec, use: _Use) -> list[x509.Certificate] | None:
        path = use.file.path
        if path not in self._certs:
            raw = self._read(path)
            if isinstance(raw, str):
                self._certs[path] = raw
            else:
                try:
                    self._certs[path] = load_certificates(raw, path)
                except MaterialError as error:
                    self._certs[path] = str(error)
        loaded = self._certs[path]
        if isinstance(loaded, str):
            self.findings.error(use.key, f"{use.label} {loaded}", self._node_id(node, use.override))
            return None
        return loaded

    def _load_key(
        self, node: NodeSpec, use: _Use, env_name: str, env_key: str, env_override: bool
    ) -> _Key | None:
        path = use.file.path
        node_id = self._node_id(node, use.override)
        cache_key = (path, env_name)
        if cache_key in self._keys:
            cached = self._keys[cache_key]
            if isinstance(cached, str):
                self.findings.error(use.key, f"{use.label} {cached}", node_id)
                return None
            return cached
        raw = self._read(path)
        result: _Key | str | None
        try:
            if isinstance(raw, str):
                raise MaterialError(raw)
            block = check_key_pem(raw, path)
            passphrase = self.env.get(env_name)
            if not passphrase:
                state = "is empty" if passphrase == "" else "is not set"
                self.findings.error(
                    env_key,
                    f"environment variable {env_name} (named by {env_key}) {state}; it must "
                    "hold the passphrase of the encrypted private keys in git",
                    self._node_id(node, env_override),
                )
                result = None
            else:
                key = decrypt_key(
                    block, passphrase, env_name, check_consistency=self.check_key_consistency
                )
                result = _Key(key, unencrypted_pkcs8(key))
                self._key_type(node_id, use, key)
        except MaterialError as error:
            result = str(error)
            self.findings.error(use.key, f"{use.label} {result}", node_id)
        self._keys[cache_key] = result
        return result if isinstance(result, _Key) else None

    def _key_type(self, node_id: str | None, use: _Use, key: PrivateKeyTypes) -> None:
        if isinstance(key, rsa.RSAPrivateKey):
            return
        self.findings.warning(
            use.key,
            f"{use.label} is not an RSA key ({key_algorithm(key)}); the documented "
            "CMS database cluster certificates are RSA 2048-4096, check that your CMS "
            "version accepts it",
            node_id,
        )

    # -- checks ---------------------------------------------------------------------------

    def _leaf_checks(
        self,
        node: NodeSpec,
        uses: dict[CertRole, _Use],
        certs: dict[CertRole, list[x509.Certificate]],
    ) -> None:
        renew = self.spec.renew_before
        for role, required, use_text in (
            (
                CertRole.SERVER_CERT,
                ExtendedKeyUsageOID.SERVER_AUTH,
                "the database server presents it to its peers",
            ),
            (
                CertRole.CLIENT_CERT,
                ExtendedKeyUsageOID.CLIENT_AUTH,
                "the nodes present it when they connect to the database",
            ),
        ):
            chain = certs.get(role)
            if not chain:
                continue
            use = uses[role]
            leaf, extras = chain[0], chain[1:]
            problems = certcheck.validity(leaf, use.label, self.now, renew)
            problems += certcheck.key_strength(leaf.public_key(), use.label)
            problems += certcheck.signature_algorithm(leaf, use.label)
            problems += certcheck.extended_key_usage(leaf, use.label, required, use_text)
            problems += certcheck.key_usage(leaf, use.label)
            if role is CertRole.CLIENT_CERT:
                problems += certcheck.client_common_name(leaf, use.label)
            else:
                problems += certcheck.server_sans(leaf, use.label, self._presenting(node, use))
            for extra in extras:
                label = f"{certcheck.describe_name(extra.subject)} in {use.file.path}"
                problems += certcheck.validity(extra, label, self.now, renew)
                problems += certcheck.signature_algorithm(extra, label)
            self._report(use.key, self._node_id(node, use.override), problems)

    def _presenting(self, node: NodeSpec, use: _Use) -> list[tuple[str, str]]:
        """(name, address) of the nodes that present this server certificate: the node
        alone for its own file, else every node without one of its own."""
        if use.override:
            return [(node.name, node.address)]
        return [
            (other.name, other.address)
            for other in self.spec.nodes
            if other.certs is None or other.certs.file(CertRole.SERVER_CERT) is None
        ]

    def _ca_checks(self, node: NodeSpec, use: _Use, ca: list[x509.Certificate] | None) -> None:
        if not ca:
            return
        problems: list[Problem] = []
        for cert in ca:
            label = f"CA certificate {certcheck.describe_name(cert.subject)} in {use.file.path}"
            problems += certcheck.validity(cert, label, self.now, self.spec.renew_before)
            problems += certcheck.key_strength(cert.public_key(), label)
            problems += certcheck.is_ca_certificate(cert, use.label)
            if not certcheck.is_self_signed(cert):  # a root's own signature is never checked
                problems += certcheck.signature_algorithm(cert, label)
        self._report(use.key, self._node_id(node, use.override), problems)

    def _pair_checks(
        self,
        node: NodeSpec,
        uses: dict[CertRole, _Use],
        keys: dict[CertRole, _Key],
        certs: dict[CertRole, list[x509.Certificate]],
    ) -> None:
        for key_role, cert_role in _PAIRS:
            key, chain = keys.get(key_role), certs.get(cert_role)
            if key is None or not chain or certcheck.key_matches(key.key, chain[0]):
                continue
            key_use, cert_use = uses[key_role], uses[cert_role]
            self.findings.error(
                key_use.key,
                f"{key_use.label} does not belong to {cert_use.label} (their public keys "
                "differ); pair each certificate with the key its CSR was made from",
                self._node_id(node, key_use.override, cert_use.override),
            )

    def _chain_checks(
        self,
        node: NodeSpec,
        uses: dict[CertRole, _Use],
        certs: dict[CertRole, list[x509.Certificate]],
    ) -> None:
        ca = certs.get(CertRole.CA_CERT)
        if not ca:
            return
        ca_use = uses[CertRole.CA_CERT]
        for role in (CertRole.SERVER_CERT, CertRole.CLIENT_CERT):
            chain = certs.get(role)
            if not chain:
                continue
            use = uses[role]
            problems = certcheck.chain_problems(
                chain[0], use.label, chain[1:], ca, ca_use.file.path
            )
            self._report(use.key, self._node_id(node, use.override, ca_use.override), problems)

    def _same_ca(self, ca_by_node: list[tuple[int, NodeSpec, _Use, frozenset[bytes]]]) -> None:
        if not ca_by_node:
            return
        _, first_node, first_use, reference = ca_by_node[0]
        for _, node, use, fingerprints in ca_by_node[1:]:
            if fingerprints != reference:
                self.findings.error(
                    use.key,
                    f"node {node.name} trusts the CA file {use.file.path}, which holds other "
                    f"certificates than {first_use.file.path} on node {first_node.name}; every "
                    "node must trust the same CA, because the nodes verify each other with it",
                    node.address,
                )

    # -- results --------------------------------------------------------------------------

    def _cert_file(
        self, use: _Use, key: _Key | None, certs: list[x509.Certificate] | None
    ) -> CertFile:
        remote = use.file.effective_remote_name
        if key is not None:
            return CertFile.build(
                use.role, use.file.path, remote, key.upload, key=key_info(key.key)
            )
        raw = self._raw[use.file.path]
        assert isinstance(raw, bytes)
        assert certs is not None
        return CertFile.build(
            use.role, use.file.path, remote, raw, certificates=tuple(cert_info(c) for c in certs)
        )


def cert_info(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject=certcheck.describe_name(cert.subject),
        subject_cn=certcheck.common_name(cert),
        issuer=certcheck.describe_name(cert.issuer),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def key_info(key: PrivateKeyTypes) -> KeyInfo:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bits = getattr(key, "key_size", None)
    return KeyInfo(
        algorithm=key_algorithm(key),
        bits=bits if isinstance(bits, int) else None,
        public_key_sha256=hashlib.sha256(public).hexdigest(),
    )


def key_algorithm(key: PrivateKeyTypes | CertificatePublicKeyTypes) -> str:
    """The key's algorithm for messages (``RSA``, ``EC secp384r1``...), private or public."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RSA"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"EC {key.curve.name}"
    named = (
        ((ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey), "Ed25519"),
        ((ed448.Ed448PrivateKey, ed448.Ed448PublicKey), "Ed448"),
        ((dsa.DSAPrivateKey, dsa.DSAPublicKey), "DSA"),
    )
    return next((name for kinds, name in named if isinstance(key, kinds)), type(key).__name__)
