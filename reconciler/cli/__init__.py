"""The ``reconcile`` command line: the only package that imports typer.

Each command parses its options, calls into the package and prints; a ``ReconcileError`` it
lets rise becomes ``error: ...`` and exit 1 in one place (``app.Group``), and the
process-wide settings (umask, SIGTERM) are made once, by the app's callback, before any
command runs (``app.settle_process``). The commands live by family: plan_apply (the app's
callback, plan, apply), gitops (init, schema, validate, clusters), state (status, unlock),
onboard (probe, import, hostkeys), lab (demo, sim) and certs. They are registered here, in
the order ``reconcile --help`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.cli import certs, gitops, lab, onboard, plan_apply, state
from reconciler.cli.app import app, ask_on_terminal, main

__all__ = ["app", "ask_on_terminal", "main"]

COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("plan", plan_apply.plan),
    ("apply", plan_apply.apply),
    ("init", gitops.init),
    ("schema", gitops.schema),
    ("validate", gitops.validate),
    ("status", state.status),
    ("probe", onboard.probe),
    ("clusters", gitops.clusters),
    ("sim", lab.sim),
    ("unlock", state.unlock),
    ("demo", lab.demo),
    ("import", onboard.import_cluster),
    ("hostkeys", onboard.hostkeys),
)
"""``reconcile``'s commands, in the order its help lists them; ``certs`` comes last."""
CERTS_COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("check", certs.certs_check),
    ("csr", certs.certs_csr),
    ("install", certs.certs_install),
    ("sign", certs.certs_sign),
    ("issue", certs.certs_issue),
)

app.callback(invoke_without_command=True)(plan_apply.root)
for _name, _command in COMMANDS:
    app.command(_name)(_command)
app.add_typer(certs.certs_app, name="certs")
for _name, _command in CERTS_COMMANDS:
    certs.certs_app.command(_name)(_command)
