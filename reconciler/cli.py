"""The ``reconcile`` command line: the only module that imports typer.

Each command parses its options, calls into the package, prints, and maps
``ReconcileError`` to a clear message and exit 1 (never a traceback). A usage error (an
unknown option, a bad ``--format``) exits 1 too: click's usual 2 means "changes planned"
here, and a mistyped flag must not pass a CI plan check.

Help is plain text, not typer's rich panels: those print a type column for every option
(``--help <bool>``, ``--repo <path>``, ``--cluster <list[str]>``), while the plain formatter
shows a flag bare and a value by its metavar (``--repo DIR``). So every option that takes a
value names a metavar.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from typer.core import TyperGroup

from reconciler.errors import ApplyInterrupted, OptionError, ReconcileError
from reconciler.parallelism import DEFAULT_PARALLELISM
from reconciler.repo_root import find_repo_root

if TYPE_CHECKING:
    from reconciler.simulator.builtin_lab import LabPlace


@contextmanager
def _usage_errors_exit_1() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as error:
        error.exit_code = 1
        raise


class _Group(TyperGroup):
    """The ``reconcile`` group: parsing errors, its own or a command's, exit 1."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_errors_exit_1():
            return super().make_context(*args, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_errors_exit_1():
            return super().invoke(*args, **kwargs)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=False,
    subcommand_metavar="[COMMAND [ARGS]...]",  # none: plan
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Keep Cisco Meeting Server database clusters converged from git. Without a command: "
    "plan (--plan; exit 0 converged, 2 changes, 1 error) or --apply (exit 0 converged, 1 not).",
)


def _given(ctx: typer.Context, name: str | None) -> bool:
    """Whether the user typed this option (rather than its default applying)."""
    source = ctx.get_parameter_source(name) if name else None
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _repo(ctx: typer.Context, param: typer.CallbackParam, value: Path) -> Path:
    """``--repo`` wins; without it, the nearest folder with ``clusters/`` from here up."""
    if _given(ctx, param.name):
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


def _format_option(*choices: str, what: str = "") -> Any:
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
FormatOption = Annotated[str, _format_option("text", "json")]


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report an interrupted command


def ask_on_terminal(question: str) -> str:
    """``question: `` on stderr, and the line typed (typer adds the ``: ``)."""
    return str(typer.prompt(question, err=True))


def _fail(error: ReconcileError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(1)


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


# The options of plan and apply, declared once: `reconcile`, `reconcile plan` and `reconcile
# apply` are made from these lists (see `_reconcile_command`). Their names are the fields of
# reconcile.ReconcileOptions.
PLAN_OPTIONS = [
    _option("repo", RepoOption, Path(".")),
    _option("clusters", ClusterOption, None),
    _option("ref", RefOption, None),
    _option(
        "output_format",
        Annotated[str, _format_option("text", "json", "markdown")],
        "text",
    ),
    _option(
        "out",
        Annotated[
            Path | None,
            typer.Option("--out", metavar="FILE", help="Save the plan (JSON) here."),
        ],
        None,
    ),
    _option(
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
    _option(
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
    _option(
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
    _option(
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


def _apply_options(*, hidden: bool) -> list[inspect.Parameter]:
    """What only apply takes (reconcile.APPLY_ONLY_FLAGS). `reconcile plan` takes them hidden,
    so that one given there is refused with the reason rather than as an unknown option."""
    return [
        _option(
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
        _option(
            "auto_approve",
            Annotated[
                bool,
                typer.Option("--auto-approve", hidden=hidden, help="Apply without asking (CI)."),
            ],
            False,
        ),
        _option(
            "allow_dirty",
            Annotated[
                bool,
                typer.Option(
                    "--allow-dirty", hidden=hidden, help="Apply from a working tree with changes."
                ),
            ],
            False,
        ),
        _option(
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
        _option(
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
        _option(
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
        _option(
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
        _option(
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
        _option(
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


def _package_version() -> str:
    from reconciler import __version__

    return __version__


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"reconcile {_package_version()}")
        raise typer.Exit(0)


ROOT_OPTIONS = [  # only on `reconcile` itself
    _option(
        "plan_mode",
        Annotated[
            bool,
            typer.Option("--plan", help="Show what would change (default; changes nothing)."),
        ],
        False,
    ),
    _option(
        "apply_mode", Annotated[bool, typer.Option("--apply", help="Make the changes.")], False
    ),
]
VERSION_OPTION = _option(
    "version",
    Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ],
    False,
)

Mode = Literal["plan", "apply"]


def _reconcile_command(mode: Mode | None, doc: str) -> Callable[..., None]:
    """`reconcile` (mode None: --plan or --apply), `reconcile plan` or `reconcile apply`:
    one function, whose signature (what typer reads) is the option lists for that mode."""

    def command(ctx: typer.Context, **values: Any) -> None:
        _reconcile(ctx, mode, values)

    options = [*PLAN_OPTIONS, *_apply_options(hidden=mode == "plan")]
    if mode is None:
        options = [*ROOT_OPTIONS, *options, VERSION_OPTION]
    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    command.__signature__ = inspect.Signature([context, *options])  # type: ignore[attr-defined]
    command.__doc__ = doc
    return command


def _reconcile(ctx: typer.Context, mode: Mode | None, values: dict[str, Any]) -> None:
    if ctx.invoked_subcommand is not None:
        _refuse_options_before(ctx)
        return
    import os
    import signal

    from reconciler.reconcile import ReconcileOptions, Terminal, plan_or_apply

    plan_mode, apply_mode = values.pop("plan_mode", False), values.pop("apply_mode", False)
    values.pop("version", None)
    if plan_mode and apply_mode:
        raise _fail(OptionError("--plan and --apply exclude each other"))
    values["clusters"] = values["clusters"] or []
    options = ReconcileOptions(
        apply=mode == "apply" or apply_mode, repo_given=_given(ctx, "repo"), **values
    )
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    terminal = Terminal(
        out=_console(),
        err=_console(stderr=True),
        ask=ask_on_terminal if interactive else None,
    )
    # CI cancels a job with SIGTERM: stop like Ctrl-C, so the journal and the message say
    # where the apply stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        code = plan_or_apply(options, os.environ, terminal)
    except ApplyInterrupted as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except KeyboardInterrupt:  # stopped where no step was running (reconciler/interrupts.py)
        typer.echo(
            "error: interrupted. Run `reconcile plan` to see where the cluster stands.", err=True
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except ReconcileError as error:
        raise _fail(error) from None
    raise typer.Exit(code)


def _refuse_options_before(ctx: typer.Context) -> None:
    """`reconcile --repo X status` would plan nothing and ignore --repo: say so."""
    typed = [param.opts[0] for param in ctx.command.params if _given(ctx, param.name)]
    if typed:
        raise _fail(
            OptionError(
                f"{', '.join(typed)} before the command name {ctx.invoked_subcommand!r} would "
                f"have no effect: put {'it' if len(typed) == 1 else 'them'} after it "
                f"(`reconcile {ctx.invoked_subcommand} {typed[0]} ...`)"
            )
        )


app.callback(invoke_without_command=True)(
    _reconcile_command(None, "Plan (default) or apply (the group's help is the app's).")
)
app.command("plan")(
    _reconcile_command(
        "plan", "Show what would change (changes nothing). Exit 0 converged, 2 changes, 1 error."
    )
)
app.command("apply")(
    _reconcile_command(
        "apply", "Make the changes (asks for 'yes' unless --auto-approve). Exit 0 converged, 1 not."
    )
)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", show_default=False, hidden=True)
    ] = Path("."),
    requirement: Annotated[
        str | None,
        typer.Option(
            "--requirement",
            metavar="SPEC",
            help=(
                "What the workflows install: a wheel file, the https URL of one, "
                "cms-reconciler==VERSION from your package index, or "
                "git+https://HOST/PATH@COMMIT (default: this release from the index pip is "
                "configured for)."
            ),
        ),
    ] = None,
) -> None:
    """A new GitOps repository in DIR (default: here): clusters/, certs/, .gitignore, README,
    workflows, and the hash-locked pin of the reconcile they install; git init if DIR is in no
    git repository. Adds what is missing, keeps the rest.

    Exit 0 written; 2 written, but the pin is missing (the output says what to do first);
    1 refused (nothing written).
    """
    from reconciler.init_repo import init_repo, render_report

    try:
        report = init_repo(directory, _package_version(), requirement)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(render_report(report))
    raise typer.Exit(report.exit_code)


@app.command()
def schema() -> None:
    """Print the JSON Schema of clusters/*.yaml (for editors and CI)."""
    from reconciler.desired.schema import cluster_json_schema

    typer.echo(json.dumps(cluster_json_schema(), indent=2))


@app.command()
def validate(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    ref: RefOption = None,
    output_format: Annotated[
        str,
        _format_option("text", "json", "github", what="github: workflow-command annotations."),
    ] = "text",
    trusted_ref: Annotated[
        str | None,
        typer.Option(
            "--trusted-ref",
            metavar="GITREF",
            help="Read only the variables (and pins) the cluster file names at this commit, "
            "as plan --trusted-ref does.",
        ),
    ] = None,
) -> None:
    """Offline checks of cluster YAML, files and the certificate bundle."""
    from reconciler.desired.validate import run_validate

    try:
        output, code = run_validate(
            repo, cluster or [], ref, output_format, trusted_ref=trusted_ref
        )
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(output)
    raise typer.Exit(code)


def _check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(ReconcileError(f"--format must be one of {', '.join(allowed)}, not {value!r}"))
    return value


@app.command()
def status(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    output_format: FormatOption = "text",
) -> None:
    """Live state of every node (read-only).

    Exit 0 healthy; 2 needs attention: a certificate in use expired or due for renewal, a
    node not replicating as the cluster file says (not in sync, another master or none), or
    a last cluster command that failed; 1 a node not read.
    """
    import os

    from reconciler.live.health import status_exit_code
    from reconciler.live.render import print_status, status_json
    from reconciler.status import gather_status

    _check_format(output_format, ("text", "json"))
    try:
        reports = gather_status(repo, cluster or [], os.environ)
    except ReconcileError as error:
        raise _fail(error) from None
    if output_format == "json":
        typer.echo(json.dumps(status_json(reports), indent=2))
    else:
        print_status(reports, _console())
    raise typer.Exit(status_exit_code(reports))


@app.command()
def probe(
    cluster: Annotated[
        str, typer.Option("--cluster", metavar="NAME", help="The cluster to probe.")
    ],
    repo: RepoOption = Path("."),
    output_format: FormatOption = "text",
    anonymise: Annotated[
        bool,
        typer.Option(
            "--anonymise",
            help="Replace the nodes' names and addresses in the bundle (consistently).",
        ),
    ] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            metavar="DIR",
            help="Where the bundle goes, under probe/ (default: $RECONCILE_STATE_DIR, else "
            ".reconcile/ in the repository).",
        ),
    ] = None,
) -> None:
    """First contact with a real cluster, before its first plan (read-only).

    Per node: status, pki inspect of each configured file, backup list, SFTP list and stat;
    every line is compared with the shapes the parsers know. Writes a redacted transcript
    bundle to attach to a bug report. Exit 0 all known; 2 a line not recognised (the plan
    may still work); 1 a node not read.
    """
    import os

    from reconciler.onboard.probe import probe_cluster, report_json, report_lines

    _check_format(output_format, ("text", "json"))
    try:
        report = probe_cluster(repo, cluster, os.environ, state_dir=state_dir, anonymise=anonymise)
    except ReconcileError as error:
        raise _fail(error) from None
    if output_format == "json":
        typer.echo(json.dumps(report_json(report), indent=2))
    else:
        for line in report_lines(report):
            typer.echo(line)
    raise typer.Exit(report.exit_code)


@app.command()
def clusters(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="GITREF",
            help="Only clusters whose YAML, certificate files or pinned host keys changed "
            "between this commit and HEAD (committed changes only).",
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            metavar="GITREF",
            help="Read the clusters from this commit (with --changed-since: compare with it "
            "instead of HEAD).",
        ),
    ] = None,
    trusted_ref: Annotated[
        str | None,
        typer.Option(
            "--trusted-ref",
            metavar="GITREF",
            help="The variables each cluster needs are the ones its file names at this commit "
            "(a cluster new since then has none: it is not contacted).",
        ),
    ] = None,
    output_format: FormatOption = "text",
) -> None:
    """List clusters and the variables each needs (JSON: a GitHub Actions matrix)."""
    from reconciler.desired.changes import list_clusters, listing_json, listing_text, select

    try:
        listing = list_clusters(repo, changed_since, ref=ref, trusted_ref=trusted_ref)
        listing = select(listing, cluster or [])
    except ReconcileError as error:
        raise _fail(error) from None
    for note in listing.notes:
        typer.echo(f"note: {note}", err=True)
    if output_format == "json":
        # One line, so that `echo "matrix=$(reconcile clusters ...)" >> $GITHUB_OUTPUT` works.
        typer.echo(json.dumps(listing_json(listing)))
    else:
        typer.echo(listing_text(listing))


@app.command()
def sim(
    repo: RepoOption = Path("."),
    cluster: Annotated[
        str, typer.Option("--cluster", metavar="NAME", help="Cluster file to serve.")
    ] = "lab",
    operation_seconds: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS", help="Duration of remove/initialize/join (default: a few seconds)."
        ),
    ] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Keep a JSON snapshot of every node here."),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            metavar="NODE:KIND[:ARG][@WHEN]",
            help="Inject a fault (repeatable), e.g. cms2:fail:join, cms1:down@cms2:database "
            "cluster join, cms3:disconnect@4 (kinds above).",
        ),
    ] = None,
    subnet: SubnetOption = None,
    port: PortOption = None,
) -> None:
    """Serve the simulated nodes of a cluster file over SSH until interrupted.

    With no clusters/lab.yaml in the repository, --cluster lab serves the built-in lab: a copy
    in a temporary folder (printed; removed when the simulator stops) that commands run in
    another terminal can use, on --subnet and --port if given.

    Faults (--fault, or a `faults:` mapping of node name to specs in sim/CLUSTER/scenario.yaml)
    are NODE:KIND[:ARG][@WHEN]; NODE * is every node. Without @WHEN a fault holds from the
    start; with it, it fires once, before the command runs: @N as the node's Nth command
    arrives, @COMMAND as it receives a command starting with COMMAND, @OTHER:COMMAND as node
    OTHER does. Kinds:

    \b
    down[:SECONDS]          node down (SSH refused, peers see Disconnected); back after SECONDS
    restart[:SECONDS]       SSH service restarts: connections cut, refused SECONDS (default 1)
    disconnect[:before|after]  drop the connection once (needs @WHEN); after: the command ran
    fail:OPERATION          remove, initialize, join or upgrade_schema ends (Failed)
    hang:OPERATION          OPERATION never finishes
    slow:OPERATION=SECONDS  OPERATION takes SECONDS on this node
    delay:SECONDS           every command waits SECONDS before answering
    partition:OTHER         database network to OTHER cut (SSH still works)
    refuse-get:GLOB, refuse-put:GLOB, corrupt-put:GLOB   SFTP faults
    password-expired[:USER] USER's password expired (default: all): a new one is asked at login
    say-certs:TEXT          certs also prints the line TEXT (not in the reference)
    say-status:OP=TEXT      the Status line while OP runs ({seconds}: seconds so far)
    say-member:OP=TEXT      the node's own member state while OP runs
    """
    import contextlib

    with contextlib.ExitStack() as stack:
        repo, env = _sim_repo(stack, repo, cluster, _lab_place(subnet, port))
        _serve(repo, cluster, env, operation_seconds, state_file, fault or [])


def _sim_repo(
    stack: contextlib.ExitStack, repo: Path, cluster: str, place: LabPlace | None
) -> tuple[Path, Mapping[str, str]]:
    """The repository to serve ``cluster`` from: ``repo``, or a temporary copy of the
    built-in lab when ``repo`` has no lab of its own (removed when ``stack`` closes)."""
    import os
    import shutil
    import tempfile

    from reconciler.simulator.builtin_lab import LAB_CLUSTER, LabPlace, copy_lab, lab_env

    if cluster != LAB_CLUSTER or (repo / "clusters" / f"{cluster}.yaml").exists():
        if place is not None:
            raise _fail(
                ReconcileError(
                    "--subnet and --port move only the built-in lab, served where no "
                    f"clusters/{LAB_CLUSTER}.yaml is; edit the cluster file's addresses instead"
                )
            )
        return repo, os.environ
    copy = Path(tempfile.mkdtemp(prefix="reconcile-lab-"))
    stack.callback(shutil.rmtree, copy, True)
    copy_lab(copy, place or LabPlace())
    typer.echo(
        f"no clusters/{LAB_CLUSTER}.yaml here: serving the built-in lab, copied to {copy} "
        "(removed when this stops). In another terminal: "
        f"cd {copy} && export CMS_LAB_PASSWORD=cms-lab CMS_LAB_KEY_PASSPHRASE=cms-lab && "
        "reconcile status"
    )
    return copy, lab_env(os.environ)


def _serve(
    repo: Path,
    cluster: str,
    env: Mapping[str, str],
    operation_seconds: float | None,
    state_file: Path | None,
    faults: list[str],
) -> None:
    """Serve until SIGINT or SIGTERM; every node stopped on the way out."""
    import os
    import signal

    from reconciler.simulator.builtin_lab import serving_error
    from reconciler.simulator.lab import build_cluster, load_topology
    from reconciler.simulator.state import Durations
    from reconciler.workdir import private_dir
    from reconciler.workdir import workdir as state_dir

    durations = None
    if operation_seconds is not None:
        seconds = operation_seconds
        durations = Durations(seconds, seconds, seconds, seconds)
    # The simulated nodes' file areas hold private keys and backups, as a device's do.
    os.umask(0o077)
    try:
        workdir = private_dir(state_dir(repo) / "sim" / cluster)
        topology = load_topology(repo, cluster)
        _fresh_directory(workdir / "nodes")
        simulated = build_cluster(
            repo,
            topology,
            env=env,
            workdir=workdir,
            durations=durations,
            state_file=state_file,
            faults=faults,
        )
    except ReconcileError as error:
        raise _fail(error) from None
    except OSError as error:
        raise _fail(ReconcileError(f"cannot serve cluster {cluster}: {error}")) from None
    try:
        simulated.start()
    except OSError as error:
        simulated.stop()
        addresses = ", ".join(node.address for node in topology.nodes)
        raise _fail(serving_error(error, addresses, topology.nodes[0].ssh_port)) from None
    # SIGTERM stops like Ctrl-C (raising in the main thread; no locks in a signal handler),
    # also while the lines below are printed: whoever waits for "ready" may signal at once.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        for setup in simulated.setups:
            typer.echo(f"{setup.name}: ssh {topology.username}@{setup.listen_host} -p {setup.port}")
        typer.echo("host keys to pin in the cluster's known_hosts:")
        for line in simulated.known_hosts_lines():
            typer.echo(f"  {line}")
        for spec in faults:
            typer.echo(f"fault: {spec}")
        typer.echo(f"ready: cluster {cluster}, {len(simulated.setups)} simulated nodes", err=False)
        sys.stdout.flush()
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        simulated.stop()


@app.command()
def unlock(
    cluster: Annotated[str, typer.Option("--cluster", metavar="NAME", help="The locked cluster.")],
    lock_id: Annotated[
        str, typer.Option("--lock-id", metavar="ID", help="The id the lock error named.")
    ],
    repo: RepoOption = Path("."),
) -> None:
    """Release a stale apply lock (only the lock with this id)."""
    import os

    from reconciler.apply.unlock import release_lock

    try:
        typer.echo(release_lock(repo, cluster, lock_id, os.environ))
    except ReconcileError as error:
        raise _fail(error) from None


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


def _lab_place(subnet: str | None, port: int | None) -> LabPlace | None:
    from reconciler.simulator.builtin_lab import LAB_PORT, LAB_SUBNET, LabPlace

    if subnet is None and port is None:
        return None
    try:
        return LabPlace(subnet or LAB_SUBNET, LAB_PORT if port is None else port)
    except ReconcileError as error:
        raise _fail(error) from None


@app.command()
def demo(repo: DemoRepoOption = None, subnet: SubnetOption = None, port: PortOption = None) -> None:
    """The simulated lab end to end, in a folder of its own: status (expired certificates),
    the plan rehearsed on a twin, apply, status, the empty plan. Needs no variable: the lab's
    published credentials are used where CMS_LAB_PASSWORD and CMS_LAB_KEY_PASSPHRASE are unset."""
    import os

    os.umask(0o077)  # backups, journal and the simulated nodes' keys: owner-only

    from reconciler.demo import DemoOptions, run_demo

    options = DemoOptions(repo=repo, place=_lab_place(subnet, port))
    try:
        code = run_demo(os.environ, _console(), options)
    except ReconcileError as error:
        raise _fail(error) from None
    raise typer.Exit(code)


@app.command("import")
def import_cluster(
    cluster: Annotated[
        str,
        typer.Option(
            "--cluster", metavar="NAME", help="Name of the new cluster file (clusters/NAME.yaml)."
        ),
    ],
    address: Annotated[
        list[str],
        typer.Option(
            "--address", metavar="ADDR", help="SSH address of a node (repeat it for every node)."
        ),
    ],
    password_env: Annotated[
        str,
        typer.Option(
            "--password-env", metavar="VAR", help="Environment variable holding the SSH password."
        ),
    ],
    key_passphrase_env: Annotated[
        str,
        typer.Option(
            "--key-passphrase-env",
            metavar="VAR",
            help="Environment variable holding the passphrase the keys are encrypted with in git.",
        ),
    ],
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="SSH port of the nodes.")
    ] = 22,
    username: Annotated[
        str, typer.Option("--username", metavar="USER", help="MMP user to log in as.")
    ] = "admin",
    trust_new_host_keys: Annotated[
        bool,
        typer.Option(
            "--trust-new-host-keys",
            help="Pin the host keys not pinned yet (compare their fingerprints first).",
        ),
    ] = False,
    repo: RepoOption = Path("."),
) -> None:
    """Describe a running cluster in git (read-only), so that the next plan is empty.

    Exit 0 written; 2 written, but the notes say what to do before the plan is empty;
    1 refused (nothing written).
    """
    import os

    from reconciler.onboard.describe import ImportSettings
    from reconciler.onboard.importer import (
        EXIT_INCOMPLETE,
        ImportRequest,
        render_report,
        run_import,
    )

    request = ImportRequest(
        repo=repo,
        settings=ImportSettings(
            cluster=cluster,
            port=port,
            username=username,
            password_env=password_env,
            key_passphrase_env=key_passphrase_env,
        ),
        addresses=tuple(address),
        trust_new_host_keys=trust_new_host_keys,
    )
    try:
        report = run_import(request, os.environ)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(render_report(report))
    raise typer.Exit(0 if report.complete else EXIT_INCOMPLETE)


@app.command()
def hostkeys(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Pin the keys not pinned yet; a changed key is never replaced."
        ),
    ] = False,
) -> None:
    """Each node's SSH host key against its pin (no login). Exit 0 all pinned, 1 otherwise."""
    from reconciler.onboard.hostkeys import check_host_keys, render_host_keys

    try:
        report = check_host_keys(repo, cluster or [], write=write)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(render_host_keys(report, write=write))
    raise typer.Exit(0 if report.ok else 1)


# --- reconcile certs ... -------------------------------------------------------------------

certs_app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Certificate lifecycle: expiry check, CSRs, sign CSRs, install signed certificates, "
    "issue.",
)
app.add_typer(certs_app, name="certs")

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


@certs_app.command("check")
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
        str, _format_option("text", "json", "prometheus", what="Output format.")
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
    import os

    from reconciler.certs.check import CheckRequest, run_check
    from reconciler.certs.report import render
    from reconciler.certs.writing import write_atomically

    request = CheckRequest(repo, cluster or [], _within(within), offline)
    try:
        report = run_check(request, os.environ)
        output = render(report, output_format) + "\n"
        if out is not None:
            write_atomically(out, output.encode())
    except ReconcileError as error:
        raise _fail(error) from None
    except OSError as error:
        raise _fail(ReconcileError(f"cannot write {out}: {error.strerror or error}")) from None
    if out is None:
        typer.echo(output, nl=False)
    raise typer.Exit(report.exit_code)


@certs_app.command("csr")
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
    import os

    from reconciler.certs.csr import CsrRequest, render_csr, run_csr

    try:
        report = run_csr(CsrRequest(repo, cluster, out, key_size, server_cn), os.environ)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(render_csr(report, repo))


@certs_app.command("install")
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
    import os

    from reconciler.certs.install import InstallRequest, render_install, run_install

    request = InstallRequest(repo, cluster, server_cert, client_cert, ca_cert, csr_dir, force=force)
    try:
        report = run_install(request, os.environ)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(render_install(report))


@certs_app.command("sign")
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
    import os

    from reconciler.certs.sign import SignRequest, render_sign, run_sign

    request = SignRequest(csr_dir, ca_cert, ca_key, ca_key_passphrase_env, days, out, cluster)
    try:
        report = run_sign(request, os.environ)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(render_sign(report))


@certs_app.command("issue")
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
    import os

    from reconciler.certs.issue import IssueRequest, render_issue, run_issue

    request = IssueRequest(
        repo, cluster, ca_cert, ca_key, ca_key_passphrase_env, days, key_size, server_cn, force
    )
    try:
        report = run_issue(request, os.environ)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(render_issue(report))


def _fresh_directory(path: Path) -> None:
    """The simulator starts every run from its scenario: drop the previous run's files."""
    import shutil

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _console(stderr: bool = False) -> Console:
    """Rich output; wide when not on a terminal so CI logs and pipes are not truncated."""
    console = Console(highlight=False, stderr=stderr)
    if not console.is_terminal:
        console = Console(highlight=False, stderr=stderr, width=max(console.width, 160))
    return console


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ReconcileError as error:  # a command that forgot to catch: still no traceback
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
    except OSError as error:  # a local file or directory problem (journal, backups, locks)
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
