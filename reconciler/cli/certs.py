"""``reconcile certs ...``: the certificate lifecycle, from expiry check to a new bundle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from reconciler.cli.app import group
from reconciler.cli.options import ClusterOption, RepoOption, format_option
from reconciler.errors import ReconcileError

certs_app = group(
    "Certificate lifecycle: expiry check, CSRs, sign CSRs, install signed certificates, issue.",
    no_args_is_help=True,
)

CertsClusterOption = Annotated[
    str, typer.Option("--cluster", metavar="NAME", help="The cluster whose bundle to write.")
]
KeySizeOption = Annotated[
    int,
    typer.Option(
        "--key-size", metavar="BITS", help="RSA key size of the new keys: 2048, 3072 or 4096."
    ),
]
CaCertOption = Annotated[
    Path, typer.Option("--ca-cert", metavar="FILE", help="The CA's certificate (PEM or DER).")
]
CaKeyOption = Annotated[
    Path, typer.Option("--ca-key", metavar="FILE", help="The CA's private key (PEM, RSA or EC).")
]
CaPassphraseEnvOption = Annotated[
    str | None,
    typer.Option(
        "--ca-key-passphrase-env",
        metavar="VAR",
        help="Environment variable holding the CA key's passphrase, if it is encrypted.",
    ),
]
DaysOption = Annotated[
    int, typer.Option("--days", metavar="N", help="Validity of the new certificates.")
]
ServerCnOption = Annotated[
    str | None,
    typer.Option(
        "--server-cn",
        metavar="NAME",
        help="CN of the server certificate (default: the CN of the current one in git).",
    ),
]


def _within(value: str | None) -> Any:
    from reconciler.durations import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--within") from None


def certs_check(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    within: Annotated[
        str | None,
        typer.Option(
            "--within",
            metavar="DURATION",
            help="Renewal window, e.g. 30d (default: each cluster file's renew_before).",
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Check the bundles in git only; read no node.")
    ] = False,
    output_format: Annotated[
        str, format_option("text", "json", "prometheus", what="Output format.")
    ] = "text",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the output to FILE (replaced in one rename) instead of stdout.",
        ),
    ] = None,
) -> None:
    """Expiry of the certificates in git and in use on every node.

    Exit 0 nothing due; 1 a certificate expired or due within the window; 3 a node or file
    could not be checked (and nothing due among the rest). An error that stops the check
    exits 1 with no output.
    """
    from reconciler.certs.check import CheckRequest, run_check
    from reconciler.certs.report import render
    from reconciler.certs.writing import write_atomically

    request = CheckRequest(repo, cluster or [], _within(within), offline)
    try:
        report = run_check(request, os.environ)
        output = render(report, output_format) + "\n"
        if out is not None:
            write_atomically(out, output.encode())
    except OSError as error:
        raise ReconcileError(f"cannot write {out}: {error.strerror or error}") from None
    if out is None:
        typer.echo(output, nl=False)
    raise typer.Exit(report.exit_code)


def certs_csr(
    cluster: CertsClusterOption,
    repo: RepoOption = Path("."),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="DIR", help="Where to write keys and CSRs (default: certs/NAME/csr)."
        ),
    ] = None,
    key_size: KeySizeOption = 4096,
    server_cn: ServerCnOption = None,
) -> None:
    """New private keys (encrypted with the cluster's passphrase) and CSRs for your CA."""
    from reconciler.certs.csr import CsrRequest, render_csr, run_csr

    report = run_csr(CsrRequest(repo, cluster, out, key_size, server_cn), os.environ)
    typer.echo(render_csr(report, repo))


def certs_install(
    cluster: CertsClusterOption,
    server_cert: Annotated[
        Path, typer.Option("--server-cert", metavar="FILE", help="The signed server certificate.")
    ],
    client_cert: Annotated[
        Path, typer.Option("--client-cert", metavar="FILE", help="The signed client certificate.")
    ],
    ca_cert: Annotated[
        Path,
        typer.Option(
            "--ca-cert", metavar="FILE", help="The CA certificate (and any intermediate)."
        ),
    ],
    repo: RepoOption = Path("."),
    csr_dir: Annotated[
        Path | None,
        typer.Option(
            "--csr-dir",
            metavar="DIR",
            help="Where `certs csr` wrote the keys (default: certs/NAME/csr).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace bundle files even if their content is not committed."
        ),
    ] = False,
) -> None:
    """Take the signed certificates back: pair them with the keys of `certs csr`, check the
    bundle as `validate` does, and write it where the cluster file names it (refused if a
    file there is not committed, unless --force)."""
    from reconciler.certs.install import InstallRequest, render_install, run_install

    request = InstallRequest(repo, cluster, server_cert, client_cert, ca_cert, csr_dir, force=force)
    report = run_install(request, os.environ)
    typer.echo(render_install(report))


def certs_sign(
    csr_dir: Annotated[
        Path,
        typer.Option("--csr-dir", metavar="DIR", help="The folder with server.csr and client.csr."),
    ],
    ca_cert: CaCertOption,
    ca_key: CaKeyOption,
    ca_key_passphrase_env: CaPassphraseEnvOption = None,
    days: DaysOption = 365,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Where to create server.cer, client.cer and ca.cer (default: --csr-dir).",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="NAME",
            help="Only named in the `certs install` command printed at the end.",
        ),
    ] = None,
) -> None:
    """Sign the CSRs of `certs csr` with a CA you hold. Reads no cluster file, none of its
    keys and not its passphrase: only the CSRs, the CA and --ca-key-passphrase-env."""
    from reconciler.certs.sign import SignRequest, render_sign, run_sign

    request = SignRequest(csr_dir, ca_cert, ca_key, ca_key_passphrase_env, days, out, cluster)
    report = run_sign(request, os.environ)
    typer.echo(render_sign(report))


def certs_issue(
    cluster: CertsClusterOption,
    ca_cert: CaCertOption,
    ca_key: CaKeyOption,
    repo: RepoOption = Path("."),
    ca_key_passphrase_env: CaPassphraseEnvOption = None,
    days: DaysOption = 365,
    key_size: KeySizeOption = 4096,
    server_cn: ServerCnOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace bundle files even if their content is not committed."
        ),
    ] = False,
) -> None:
    """Issue a new bundle from a CA you hold, keys encrypted with the cluster's passphrase
    (refused if a bundle file is not committed, unless --force)."""
    from reconciler.certs.issue import IssueRequest, render_issue, run_issue

    request = IssueRequest(
        repo, cluster, ca_cert, ca_key, ca_key_passphrase_env, days, key_size, server_cn, force
    )
    report = run_issue(request, os.environ)
    typer.echo(render_issue(report))
