"""The options several commands share, declared once.

Help is plain text, not typer's rich panels: those print a type column for every option
(``--help <bool>``, ``--repo <path>``, ``--cluster <list[str]>``), while the plain formatter
shows a flag bare and a value by its metavar (``--repo DIR``). So every option that takes a
value names a metavar.

The options of plan and apply are lists of ``inspect.Parameter`` (``PLAN_OPTIONS``,
``apply_options``): `reconcile`, `reconcile plan` and `reconcile apply` are made from them
(reconciler/cli/plan_apply.py). Their names are the fields of reconcile.ReconcileOptions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from reconciler.cli.app import package_version
from reconciler.errors import ReconcileError
from reconciler.parallelism import DEFAULT_PARALLELISM
from reconciler.repo_root import find_repo_root


def given(ctx: typer.Context, name: str | None) -> bool:
    """Whether the user typed this option (rather than its default applying)."""
    source = ctx.get_parameter_source(name) if name else None
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _repo(ctx: typer.Context, param: typer.CallbackParam, value: Path) -> Path:
    """``--repo`` wins; without it, the nearest folder with ``clusters/`` from here up."""
    if given(ctx, param.name):
        return value
    here = Path.cwd()
    found = find_repo_root(here)
    return Path(".") if found == here else found


def _choice(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def format_option(*choices: str, what: str = "") -> Any:
    """``--format [a|b|c]``, refusing any other value with the list of the allowed ones."""
    return typer.Option(
        "--format",
        metavar=f"[{'|'.join(choices)}]",
        callback=_choice(*choices),
        help=what or "Output format.",
    )


RepoOption = Annotated[
    Path,
    typer.Option(
        "--repo",
        metavar="DIR",
        callback=_repo,
        show_default=False,
        help="The GitOps repository (default: the nearest folder upward with clusters/).",
    ),
]
ClusterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--cluster",
        metavar="NAME",
        help="Cluster name (repeatable; default: every clusters/*.yaml).",
    ),
]
RefOption = Annotated[
    str | None,
    typer.Option("--ref", metavar="GITREF", help="Read desired state from a git commit."),
]
FormatOption = Annotated[str, format_option("text", "json")]


def option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    """One keyword option of a command whose signature is built from a list (plan, apply)."""
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


PLAN_OPTIONS = [
    option("repo", RepoOption, Path(".")),
    option("clusters", ClusterOption, None),
    option("ref", RefOption, None),
    option(
        "output_format",
        Annotated[str, format_option("text", "json", "markdown")],
        "text",
    ),
    option(
        "out",
        Annotated[
            Path | None,
            typer.Option("--out", metavar="FILE", help="Save the plan (JSON) here."),
        ],
        None,
    ),
    option(
        "parallelism",
        Annotated[
            int,
            typer.Option(
                "--parallelism",
                metavar="N",
                min=1,
                max=256,
                help="Nodes read at once, and clusters applied at once (steps within a "
                "cluster always run one after another).",
            ),
        ],
        DEFAULT_PARALLELISM,
    ),
    option(
        "trusted_ref",
        Annotated[
            str | None,
            typer.Option(
                "--trusted-ref",
                metavar="GITREF",
                help="Take access (hosts, ports, user, secret variable names, host-key pins) "
                "from this commit, not from --ref: what a pull request proposes for them takes "
                "effect once merged; only the cluster's own nodes there, pinned there, are "
                "contacted.",
            ),
        ],
        None,
    ),
    option(
        "rehearse",
        Annotated[
            bool,
            typer.Option(
                "--rehearse",
                help="Run the plan with the real executor on a twin of the live cluster "
                "(nothing more is sent to the nodes); exit 1 if it does not converge there.",
            ),
        ],
        False,
    ),
    option(
        "recertify",
        Annotated[
            bool,
            typer.Option(
                "--recertify",
                help="Re-load every node's certificates, even where its files already match "
                "(status shows only the names of the files `database cluster certs` loaded): "
                "a re-form in a rotation's order, backups first, the master keeping its "
                "database.",
            ),
        ],
        False,
    ),
]


def apply_options(*, hidden: bool) -> list[inspect.Parameter]:
    """What only apply takes (reconcile.APPLY_ONLY_FLAGS). `reconcile plan` takes them hidden,
    so that one given there is refused with the reason rather than as an unknown option."""
    return [
        option(
            "plan_file",
            Annotated[
                Path | None,
                typer.Option(
                    "--plan-file",
                    metavar="FILE",
                    hidden=hidden,
                    help="Apply exactly this saved plan.",
                ),
            ],
            None,
        ),
        option(
            "auto_approve",
            Annotated[
                bool,
                typer.Option("--auto-approve", hidden=hidden, help="Apply without asking (CI)."),
            ],
            False,
        ),
        option(
            "allow_dirty",
            Annotated[
                bool,
                typer.Option(
                    "--allow-dirty", hidden=hidden, help="Apply from a working tree with changes."
                ),
            ],
            False,
        ),
        option(
            "state_dir",
            Annotated[
                Path | None,
                typer.Option(
                    "--state-dir",
                    metavar="DIR",
                    hidden=hidden,
                    help="Where the journal, backups and local lock go (default: "
                    "$RECONCILE_STATE_DIR, else .reconcile/ in the repository).",
                ),
            ],
            None,
        ),
        option(
            "allow_master_change",
            Annotated[
                bool,
                typer.Option(
                    "--allow-master-change",
                    hidden=hidden,
                    help="Allow a plan that makes another node's database the master copy.",
                ),
            ],
            False,
        ),
        option(
            "skip_rehearsal",
            Annotated[
                bool,
                typer.Option(
                    "--skip-rehearsal",
                    hidden=hidden,
                    help="Apply without first rehearsing the plan on a twin of the live "
                    "cluster (recorded in the journal); by default apply refuses a plan that "
                    "does not converge there.",
                ),
            ],
            False,
        ),
        option(
            "step",
            Annotated[
                bool,
                typer.Option(
                    "--step",
                    hidden=hidden,
                    help="Ask before each step that changes a node (not before backups), "
                    "showing the node's status read just then and the step's command: 'y' "
                    "runs it, 'q' stops as Ctrl-C does. Needs a terminal; not with "
                    "--auto-approve. For a first apply on a real cluster.",
                ),
            ],
            False,
        ),
        option(
            "ignore_window",
            Annotated[
                bool,
                typer.Option(
                    "--ignore-window",
                    hidden=hidden,
                    help="Apply even where a cluster's maintenance window is closed or too "
                    "short for the plan (needs --reason; the journal and the outcome record it).",
                ),
            ],
            False,
        ),
        option(
            "window_reason",
            Annotated[
                str | None,
                typer.Option(
                    "--reason",
                    metavar="TEXT",
                    hidden=hidden,
                    help="Why --ignore-window: recorded in the journal and the outcome.",
                ),
            ],
            None,
        ),
    ]


def _show_version(value: bool) -> None:
    """``--version``: eager, so it answers before any other option is checked."""
    if value:
        typer.echo(f"reconcile {package_version()}")
        raise typer.Exit(0)


ROOT_OPTIONS = [  # only on `reconcile` itself
    option(
        "plan_mode",
        Annotated[
            bool,
            typer.Option("--plan", help="Show what would change (default; changes nothing)."),
        ],
        False,
    ),
    option("apply_mode", Annotated[bool, typer.Option("--apply", help="Make the changes.")], False),
]
VERSION_OPTION = option(
    "version",
    Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ],
    False,
)

DemoRepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        metavar="DIR",
        help="Work in DIR instead of a temporary folder: its clusters/lab.yaml if it has one, "
        "else a copy of the built-in lab written there (removed again if the demo fails).",
    ),
]
SubnetOption = Annotated[
    str | None,
    typer.Option(
        metavar="127.A.B",
        help="Serve the built-in lab's copy on this loopback subnet (nodes .73-.75) instead of "
        "127.0.85, e.g. beside another demo.",
    ),
]
PortOption = Annotated[
    int | None,
    typer.Option(metavar="PORT", help="The SSH port of the built-in lab's copy (default 2222)."),
]


def check_format(value: str, allowed: tuple[str, ...]) -> str:
    """A ``--format`` value this command takes (its option lists more, for other commands)."""
    if value not in allowed:
        raise ReconcileError(f"--format must be one of {', '.join(allowed)}, not {value!r}")
    return value
