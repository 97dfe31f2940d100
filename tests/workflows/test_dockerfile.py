"""The container image's rules, checked on the Dockerfile itself (no Docker engine runs here;
test.yml's image job builds and runs it, with scripts/image_smoke.py, tested below against a
fake ``docker``): a base pinned by digest, a user that is not root, every package
hash-checked, ``reconcile`` as the entrypoint, nothing secret in the build context or the
image. Each check is also fed a Dockerfile that breaks its rule, and must fail.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler import __version__
from tests.support.lab import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SMOKE = REPO / "scripts" / "image_smoke.py"
BASE = re.compile(r"python:\d+\.\d+\.\d+-slim(-[a-z]+)?@sha256:[0-9a-f]{64}")
RUNNERS_LOCK = ".github/requirements.txt"  # what .github/scripts/install-reconcile.sh installs
LOCKS = {RUNNERS_LOCK, ".github/release-requirements.txt"}
# What the build may read from the checkout; .dockerignore lets in nothing else.
# .github/ goes into the wheel as `reconcile init`'s templates (setup.py); it holds workflows,
# scripts and locks, nothing secret.
BUILD_INPUTS = {
    "pyproject.toml",
    "setup.py",
    "README.md",
    "LICENSE",
    "MANIFEST.in",
    "reconciler/",
    ".github/",
}
SECRET_NAME = re.compile(r"PASSWORD|PASSPHRASE|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)
FORBIDDEN_PIP_OPTIONS = {"--index-url", "-i", "--extra-index-url", "--trusted-host", "--find-links"}


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str  # continuation lines joined


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    body: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.body if instruction.keyword == keyword]


def instructions(text: str) -> Iterator[Instruction]:
    """The Dockerfile's instructions; comment lines (also inside a continuation) dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        pending = ""
        yield Instruction(keyword.upper(), arguments.strip())


def stages(text: str) -> list[Stage]:
    found: list[Stage] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(words[0], name, []))
        else:
            assert found, f"{instruction.keyword} before the first FROM"
            found[-1].body.append(instruction)
    assert found, "no FROM"
    return found


def flags(arguments: str) -> tuple[dict[str, list[str]], list[str]]:
    """An instruction's ``--flag=value`` options (each may repeat) and the words after them."""
    words = shlex.split(arguments)
    options: dict[str, list[str]] = {}
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        options.setdefault(flag, []).append(value)
    return options, words


def mounts(instruction: Instruction) -> list[dict[str, str]]:
    options, _ = flags(instruction.arguments)
    return [
        {key: value for key, _, value in (part.partition("=") for part in mount.split(","))}
        for mount in options.get("--mount", [])
    ]


def is_pip_install(command: list[str]) -> bool:
    return "install" in command and any(Path(word).name in ("pip", "pip3") for word in command)


def commands(instruction: Instruction) -> list[list[str]]:
    """A RUN's shell commands, split at &&, ||, ; and |."""
    _, words = flags(instruction.arguments)
    found: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", "||", ";", "|"):
            found.append([])
        else:
            found[-1].append(word)
    return [command for command in found if command]


def context_sources(stage: Stage) -> list[str]:
    """What a stage takes from the build context: COPY sources and bind mounts, not --from."""
    sources = []
    for copy in stage.all("COPY"):
        options, words = flags(copy.arguments)
        if "--from" not in options:
            sources += words[:-1]
    for run in stage.all("RUN"):
        sources += [m["source"] for m in mounts(run) if m.get("type") == "bind" and "from" not in m]
    return sources


# --- the checks --------------------------------------------------------------------------------


def check_base(text: str) -> None:
    """Every stage starts from one python slim image, named by version and pinned by digest."""
    names = set()
    bases = set()
    for stage in stages(text):
        if stage.base not in names:
            assert BASE.fullmatch(stage.base), (
                f"FROM {stage.base} is not python:X.Y.Z-slim[-debian]@sha256:DIGEST"
            )
            bases.add(stage.base)
        if stage.name:
            names.add(stage.name)
    assert len(bases) == 1, f"the stages start from different bases: {sorted(bases)}"


def check_user(text: str) -> None:
    """The image runs as a user made for it, by number, not root."""
    final = stages(text)[-1]
    users = final.all("USER")
    assert users, "the final stage sets no USER: the container would run as root"
    uid = users[-1].arguments.split(":")[0]
    assert uid.isdigit(), f"USER {uid}: by number, so that runAsNonRoot can check it"
    assert int(uid) != 0, "USER 0 is root"
    made = " ".join(run.arguments for run in final.all("RUN"))
    assert f"--uid {uid}" in made, f"no RUN makes the user {uid} (useradd --uid {uid})"


def check_installs(text: str) -> None:
    """Every pip install is hash-checked from a lock without resolving, or the wheel built in
    the build stage without an index; the final stage installs the runners' lock."""
    every = stages(text)
    final_locks = []
    for stage in every:
        bound = {m["target"]: m["source"] for run in stage.all("RUN") for m in mounts(run)}
        built = [m["target"] for run in stage.all("RUN") for m in mounts(run) if "from" in m]
        for copy in stage.all("COPY"):
            options, words = flags(copy.arguments)
            if len(words) == 2:  # COPY FILE TARGET: a lock copied in, as a mount binds one
                bound[words[1]] = words[0]
            built += [words[-1]] if "--from" in options else []
        for run in stage.all("RUN"):
            for command in filter(is_pip_install, commands(run)):
                shown = " ".join(command)
                assert "--no-deps" in command, f"{shown}: resolves dependencies from an index"
                assert not FORBIDDEN_PIP_OPTIONS & set(command), f"{shown}: another index"
                if "-r" in command:
                    lock = bound.get(command[command.index("-r") + 1], "")
                    assert lock in LOCKS, f"{shown}: -r of {lock or 'a file not from the checkout'}"
                    assert "--require-hashes" in command, f"{shown}: without --require-hashes"
                    final_locks += [lock] if stage is every[-1] else []
                    continue
                rest = command[command.index("install") + 1 :]
                wheels = [word for word in rest if word.endswith(".whl")]
                others = set(rest) - {"--no-deps", "--no-index", *wheels}
                assert wheels, f"{shown}: installs neither a lock nor the built wheel"
                assert not others, f"{shown}: installs neither a lock nor the built wheel alone"
                assert all(any(w.startswith(d) for d in built) for w in wheels), f"{shown}: whose?"
                assert "--no-index" in command, f"{shown}: may fetch from an index"
    assert RUNNERS_LOCK in final_locks, f"the final stage does not install {RUNNERS_LOCK}"


def check_entrypoint(text: str) -> None:
    entrypoints = stages(text)[-1].all("ENTRYPOINT")
    assert entrypoints, "no ENTRYPOINT"
    last = entrypoints[-1].arguments
    # Exec form: `docker run IMAGE ARGS` passes ARGS to reconcile, and signals reach it.
    assert last.startswith("["), f"ENTRYPOINT {last} is in shell form"
    assert json.loads(last) == ["reconcile"], f"ENTRYPOINT {last}"


def check_nothing_secret(text: str, ignore: str) -> None:
    """No secret by name in the image's settings; the final stage takes from the checkout only
    the lock; the build context is an allowlist of what the build reads."""
    every = list(instructions(text))
    assert not [i for i in every if i.keyword == "ADD"], "ADD fetches URLs and unpacks: COPY"
    for instruction in every:
        if instruction.keyword in ("ENV", "ARG"):
            names = [word.split("=")[0] for word in shlex.split(instruction.arguments)]
            names = names if "=" in instruction.arguments else names[:1]
            secret = [name for name in names if SECRET_NAME.search(name)]
            assert not secret, f"{instruction.keyword} {secret}: secrets come at run time"
    assert context_sources(stages(text)[-1]) == [RUNNERS_LOCK], "the final stage copies files"
    patterns = [line.strip() for line in ignore.splitlines() if line.strip()[:1] not in ("", "#")]
    assert patterns[:1] == ["*"], ".dockerignore does not start by leaving everything out"
    allowed = {pattern[1:] for pattern in patterns if pattern.startswith("!")}
    assert allowed <= BUILD_INPUTS, f".dockerignore lets in {sorted(allowed - BUILD_INPUTS)}"
    for stage in stages(text):
        for source in context_sources(stage):
            assert any(
                source == entry.rstrip("/") or source.startswith(entry) for entry in allowed
            ), f"{source} is read by the build but left out by .dockerignore"


Check = Callable[[str], None]
CHECKS: list[Check] = [check_base, check_user, check_installs, check_entrypoint]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_dockerfile_keeps_the_rule(check: Check) -> None:
    check(DOCKERFILE.read_text())


def test_nothing_secret_reaches_the_build_or_the_image() -> None:
    check_nothing_secret(DOCKERFILE.read_text(), DOCKERIGNORE.read_text())


# --- each check can fail -------------------------------------------------------------------------

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")


def broken(old: str, new: str, *, count: int = 1) -> str:
    text = DOCKERFILE.read_text()
    assert old in text, old
    return text.replace(old, new, count)


def another_base_in_the_first_stage() -> str:
    digest = DIGEST.findall(DOCKERFILE.read_text())[0]
    return broken(digest, digest[:-4] + "0000")


@pytest.mark.parametrize(
    ("check", "text", "error"),
    [
        (check_base, DIGEST.sub("", DOCKERFILE.read_text()), "@sha256:DIGEST"),
        (check_base, broken(".14-slim", "-slim", count=2), "is not python:X.Y.Z-slim"),
        (check_base, another_base_in_the_first_stage(), "different bases"),
        (check_user, broken("USER 10001:10001", "USER root"), "by number"),
        (check_user, broken("USER 10001:10001", "USER 0:0"), "USER 0 is root"),
        (check_user, broken("USER 10001:10001", ""), "sets no USER"),
        (check_user, broken("USER 10001:10001", "USER 10002"), "no RUN makes the user 10002"),
        (check_installs, broken("--require-hashes --no-deps -r /tmp/req", "-r /tmp/req"), "deps"),
        (check_installs, broken("--require-hashes ", "", count=2), "without --require-hashes"),
        (check_installs, broken("--no-index ", ""), "may fetch from an index"),
        (check_installs, broken("bin/pip check", "pip install --no-deps requests"), "neither"),
        (check_installs, broken("from=build,", ""), "whose?"),
        (
            check_installs,
            broken("bin/pip check", "pip install --no-deps -r /tmp/requirements.txt -i http://x"),
            "another index",
        ),
        (
            check_installs,
            broken("source=.github/requirements.txt", "source=.github/release-requirements.txt"),
            "does not install .github/requirements.txt",
        ),
        (check_entrypoint, broken('ENTRYPOINT ["reconcile"]', "ENTRYPOINT reconcile"), "shell"),
        (check_entrypoint, broken('ENTRYPOINT ["reconcile"]', 'ENTRYPOINT ["sh"]'), "sh"),
    ],
)
def test_a_dockerfile_that_breaks_a_rule_is_caught(check: Check, text: str, error: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(error)):
        check(text)


@pytest.mark.parametrize(
    ("text", "ignore", "error"),
    [
        (broken("USER 10001", "ENV CMS_SSH_PASSWORD=lab\nUSER 10001"), None, "CMS_SSH_PASSWORD"),
        (broken("USER 10001", "ARG GH_TOKEN\nUSER 10001"), None, "GH_TOKEN"),
        (broken("USER 10001", "COPY . /src\nUSER 10001"), None, "the final stage copies files"),
        (broken("COPY reconciler", "ADD https://x/y.tar.gz /src\nCOPY reconciler"), None, "ADD"),
        (None, DOCKERIGNORE.read_text().replace("\n*\n", "\n.git\n"), "does not start"),
        (None, DOCKERIGNORE.read_text() + "!.reconcile/\n", "lets in ['.reconcile/']"),
        (None, DOCKERIGNORE.read_text().replace("!LICENSE\n", ""), "LICENSE is read by"),
    ],
    ids=["env", "arg", "copy-all", "add", "no-allowlist", "state", "missing-input"],
)
def test_a_secret_the_image_or_context_could_take_is_caught(
    text: str | None, ignore: str | None, error: str
) -> None:
    with pytest.raises(AssertionError, match=re.escape(error)):
        check_nothing_secret(text or DOCKERFILE.read_text(), ignore or DOCKERIGNORE.read_text())


# --- scripts/image_smoke.py, against a fake docker ----------------------------------------------

FAKE_DOCKER = """
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[0] == "build":
    sys.exit(int(os.environ.get("FAKE_BUILD_EXIT", "0")))
if "--version" in args:
    print(os.environ["FAKE_VERSION"])
elif "--entrypoint" in args:
    print(os.environ.get("FAKE_UID", "10001"))
elif "demo" in args:
    print("converged")
    sys.exit(int(os.environ.get("FAKE_DEMO_EXIT", "0")))
"""


def smoke(tmp_path: Path, **fake: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DOCKER_LOG": str(log),
        "FAKE_VERSION": f"reconcile {__version__}",
        **fake,
    }
    done = subprocess.run(
        [sys.executable, str(SMOKE), "cms-reconciler:smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def test_the_smoke_test_builds_then_checks_version_user_and_demo(tmp_path: Path) -> None:
    done, calls = smoke(tmp_path)
    assert done.returncode == 0, done.stderr
    image = "cms-reconciler:smoke"
    assert calls == [
        ["build", "--tag", image, "."],
        ["run", "--rm", "--network", "none", image, "--version"],
        ["run", "--rm", "--entrypoint", "id", image, "-u"],
        ["run", "--rm", "--network", "none", image, "demo"],
    ]
    assert f"is reconcile {__version__}, runs as uid 10001, demo converged" in done.stdout


@pytest.mark.parametrize(
    ("fake", "error", "calls"),
    [
        ({"FAKE_BUILD_EXIT": "1"}, "the image did not build", 1),
        (
            {"FAKE_VERSION": "reconcile 0.0.0"},
            f"`--version` did not print 'reconcile {__version__}'",
            2,
        ),
        ({"FAKE_UID": "0"}, "the image's user is root", 3),
        ({"FAKE_DEMO_EXIT": "1"}, "`demo` exited 1", 4),
    ],
    ids=["build", "version", "root", "demo"],
)
def test_the_smoke_test_fails_at_the_first_check_that_does(
    tmp_path: Path, fake: dict[str, str], error: str, calls: int
) -> None:
    done, made = smoke(tmp_path, **fake)
    assert done.returncode == 1
    assert f"image_smoke: {error}" in done.stderr
    assert len(made) == calls
