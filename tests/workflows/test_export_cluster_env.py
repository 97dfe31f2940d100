"""export-cluster-env.sh: a cluster's secrets, read from fixed slot names, exported under the
names its trusted cluster file gives them, and nothing exported when anything is wrong."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.support import GitHub, error_lines

PEM = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG9w0BBQ0w\n-----END-----"
SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
ENVIRONMENT = "cms-lab-plan"
LAB = [
    {"secret": "CMS_SSH_PASSWORD", "env": "CMS_LAB_PASSWORD", "file": False},
    {"secret": "CMS_KEY_PASSPHRASE", "env": "CMS_LAB_KEY_PASSPHRASE", "file": False},
]
SLOTS = (
    "CMS_SSH_PASSWORD",
    "CMS_SSH_KEY",
    "CMS_KEY_PASSPHRASE",
    "CMS_KEY_PASSPHRASE_2",
    "CMS_KEY_PASSPHRASE_3",
)


def parse_github_env(text: str) -> list[tuple[str, str]]:
    """$GITHUB_ENV as the runner reads it (FileCommandManager): ``NAME=VALUE`` lines, and
    ``NAME<<DELIM``, the value being every line up to a line equal to DELIM."""
    entries: list[tuple[str, str]] = []
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r\n")
        index += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            entries.append((line[:equals], line[equals + 1 :]))
            continue
        assert heredoc > 0, f"invalid line {line!r}"
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        value: list[str] = []
        while True:
            assert index < len(lines), f"matching delimiter not found: {delimiter!r}"
            current = lines[index]
            index += 1
            assert current.endswith("\n"), "EOF marker missing new line"
            if current.rstrip("\r\n") == delimiter:
                break
            value.append(current)
        entries.append((name, "".join(value).removesuffix("\n")))
    return entries


def export(
    github: GitHub, secrets: Any, earlier: str = "", **values: str | None
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the script as the setup action does: the listing's secrets, and the slots' values
    (every slot unset unless given)."""
    env_file = github.file("github-env", earlier)
    slots: dict[str, str | None] = dict.fromkeys(SLOTS)
    slots.update(values)
    result = github.run(
        "export-cluster-env.sh",
        CMS_SECRETS=secrets if isinstance(secrets, str) else json.dumps(secrets),
        CMS_ENVIRONMENT=ENVIRONMENT,
        GITHUB_ENV=str(env_file),
        RUNNER_TEMP=str(github.root / "runner-temp"),
        **slots,
    )
    return result, env_file.read_bytes().decode()


def test_each_secret_is_appended_in_heredoc_form_under_its_clusters_name(github: GitHub) -> None:
    result, text = export(
        github, LAB, earlier="EARLIER=1\n", CMS_SSH_PASSWORD="cms-lab", CMS_KEY_PASSPHRASE=PEM
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"EARLIER=1\n"
        r"CMS_LAB_PASSWORD<<(EOF_[0-9a-f]{32})\ncms-lab\n\1\n"
        r"CMS_LAB_KEY_PASSPHRASE<<(EOF_[0-9a-f]{32})\n(?s:.*)\n\2\n",
        text,
    ), text
    assert parse_github_env(text) == [
        ("EARLIER", "1"),
        ("CMS_LAB_PASSWORD", "cms-lab"),
        ("CMS_LAB_KEY_PASSPHRASE", PEM),
    ]
    assert not (github.root / "runner-temp").exists()  # no file secret: no file


def test_a_slot_not_named_by_the_cluster_is_not_exported(github: GitHub) -> None:
    result, text = export(
        github, LAB[:1], CMS_SSH_PASSWORD="pw", CMS_KEY_PASSPHRASE="stray", CMS_SSH_KEY="stray"
    )
    assert result.returncode == 0, result.stderr
    assert parse_github_env(text) == [("CMS_LAB_PASSWORD", "pw")]


@pytest.mark.parametrize("ending", ["", "\n"], ids=["no-final-newline", "final-newline"])
def test_the_ssh_key_becomes_a_private_file_and_the_variable_its_path(
    github: GitHub, ending: str
) -> None:
    secrets = [{"secret": "CMS_SSH_KEY", "env": "CMS_LAB_SSH_KEY_FILE", "file": True}]
    result, text = export(github, secrets, CMS_SSH_KEY=SSH_KEY + ending)
    assert result.returncode == 0, result.stderr
    folder = github.root / "runner-temp" / "cms-reconciler-secrets"
    key = folder / "CMS_SSH_KEY"
    assert parse_github_env(text) == [("CMS_LAB_SSH_KEY_FILE", str(key))]
    assert key.read_text() == SSH_KEY + "\n"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_all_five_slots_at_once(github: GitHub) -> None:
    secrets = [
        {"secret": "CMS_SSH_PASSWORD", "env": "CMS_P_PASSWORD", "file": False},
        {"secret": "CMS_SSH_KEY", "env": "CMS_P_KEY_FILE", "file": True},
        {"secret": "CMS_KEY_PASSPHRASE", "env": "CMS_P_PASS", "file": False},
        {"secret": "CMS_KEY_PASSPHRASE_2", "env": "CMS_P_CMS2_PASS", "file": False},
        {"secret": "CMS_KEY_PASSPHRASE_3", "env": "CMS_P_CMS3_PASS", "file": False},
    ]
    values = {slot: f"value of {slot}" for slot in SLOTS}
    result, text = export(github, secrets, **values)
    assert result.returncode == 0, result.stderr
    key = github.root / "runner-temp" / "cms-reconciler-secrets" / "CMS_SSH_KEY"
    assert parse_github_env(text) == [
        ("CMS_P_PASSWORD", "value of CMS_SSH_PASSWORD"),
        ("CMS_P_KEY_FILE", str(key)),
        ("CMS_P_PASS", "value of CMS_KEY_PASSPHRASE"),
        ("CMS_P_CMS2_PASS", "value of CMS_KEY_PASSPHRASE_2"),
        ("CMS_P_CMS3_PASS", "value of CMS_KEY_PASSPHRASE_3"),
    ]


TRICKY = {
    "CMS_SSH_PASSWORD": "EOF",
    "CMS_KEY_PASSPHRASE": "first\nEOF\nEOF_0123456789abcdef0123456789abcdef\nlast",
    "CMS_KEY_PASSPHRASE_2": "CMS_D<<EOF\nFOO=bar\n",  # looks like another entry; ends in \n
    "CMS_KEY_PASSPHRASE_3": "  spaces  and = signs <<  ",
}


def test_values_that_look_like_delimiters_or_entries_survive(github: GitHub) -> None:
    secrets = [{"secret": slot, "env": f"CMS_{n}", "file": False} for n, slot in enumerate(TRICKY)]
    result, text = export(github, secrets, **TRICKY)
    assert result.returncode == 0, result.stderr
    assert parse_github_env(text) == [
        (f"CMS_{n}", value) for n, value in enumerate(TRICKY.values())
    ]


@pytest.mark.parametrize("missing", ["", None], ids=["empty", "unset"])
def test_a_missing_secret_is_named_with_its_environment_and_variable(
    github: GitHub, missing: str | None
) -> None:
    result, text = export(
        github, LAB, "EARLIER=1\n", CMS_SSH_PASSWORD="pw", CMS_KEY_PASSPHRASE=missing
    )
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "::error::secret CMS_KEY_PASSPHRASE is missing in environment cms-lab-plan; "
        "it becomes CMS_LAB_KEY_PASSPHRASE"
    ]
    assert text == "EARLIER=1\n"  # nothing appended, not even the password that was there


def test_every_missing_secret_is_named_at_once(github: GitHub) -> None:
    secrets = [*LAB, {"secret": "CMS_SSH_KEY", "env": "CMS_LAB_KEY_FILE", "file": True}]
    result, text = export(github, secrets)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"::error::secret {slot} is missing in environment cms-lab-plan; it becomes {name}"
        for slot, name in [
            ("CMS_SSH_PASSWORD", "CMS_LAB_PASSWORD"),
            ("CMS_KEY_PASSPHRASE", "CMS_LAB_KEY_PASSPHRASE"),
            ("CMS_SSH_KEY", "CMS_LAB_KEY_FILE"),
        ]
    ]
    assert text == ""
    assert not (github.root / "runner-temp").exists()


DENIED = [
    "PATH",
    "HOME",
    "SHELL",
    "BASH_ENV",
    "ENV",
    "IFS",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "NODE_OPTIONS",
    "GITHUB_TOKEN",
    "GITHUB_ENV",
    "GITHUB_PATH",
    "RUNNER_TEMP",
    "ACTIONS_RUNTIME_TOKEN",
    "CI",
    "GIT_SSH_COMMAND",
    "GIT_DIR",
    "SSH_AUTH_SOCK",
    "SSH_ASKPASS",
    *SLOTS,
]


@pytest.mark.parametrize("name", DENIED)
def test_a_name_that_changes_how_later_steps_run_is_refused(github: GitHub, name: str) -> None:
    secrets = [LAB[0], {"secret": "CMS_KEY_PASSPHRASE", "env": name, "file": False}]
    result, text = export(github, secrets, CMS_SSH_PASSWORD="pw", CMS_KEY_PASSPHRASE="x")
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.startswith("::error::secret CMS_KEY_PASSPHRASE: the cluster file names the ")
    assert f"variable {name}, which would change how later steps run" in line
    assert text == ""


@pytest.mark.parametrize(
    "name", ["lowercase", "1ST", "A-B", "A B", "", "A=B", "PATH\nX", "CMS_LAB_PASSWORD<<EOF"]
)
def test_a_name_that_is_no_variable_name_is_refused(github: GitHub, name: str) -> None:
    secrets = [{"secret": "CMS_SSH_PASSWORD", "env": name, "file": False}]
    result, text = export(github, secrets, CMS_SSH_PASSWORD="pw")
    assert result.returncode == 1
    assert "::error::" in result.stderr
    assert text == ""


def test_a_slot_outside_the_fixed_list_is_refused(github: GitHub) -> None:
    """Only the five slots are read: a listing that names another secret (say the token)
    cannot make the script read whatever variable that is."""
    secrets = [LAB[0], {"secret": "GITHUB_TOKEN", "env": "CMS_LAB_TOKEN", "file": False}]
    result, text = export(github, secrets, CMS_SSH_PASSWORD="pw", GITHUB_TOKEN="ghs_secret")
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.startswith("::error::unknown secret slot 'GITHUB_TOKEN' for CMS_LAB_TOKEN")
    assert "ghs_secret" not in result.stderr + result.stdout
    assert text == ""


@pytest.mark.parametrize(
    ("slot", "file"), [("CMS_SSH_KEY", False), ("CMS_SSH_PASSWORD", True)], ids=["key", "password"]
)
def test_a_file_flag_that_is_not_the_slots_is_refused(
    github: GitHub, slot: str, file: bool
) -> None:
    secrets = [{"secret": slot, "env": "CMS_LAB_X", "file": file}]
    result, text = export(github, secrets, **{slot: "value"})
    assert result.returncode == 1
    assert f'::error::secret {slot} is given with "file": {str(file).lower()}' in result.stderr
    assert text == ""


def test_a_variable_named_twice_is_refused(github: GitHub) -> None:
    secrets = [LAB[0], {**LAB[1], "env": LAB[0]["env"]}]
    result, text = export(github, secrets, CMS_SSH_PASSWORD="pw", CMS_KEY_PASSPHRASE="x")
    assert result.returncode == 1
    assert error_lines(result.stderr) == ["::error::the variable CMS_LAB_PASSWORD is given twice"]
    assert text == ""


def test_an_empty_list_exports_nothing(github: GitHub) -> None:
    result, text = export(github, [], "EARLIER=1\n", CMS_SSH_PASSWORD="stray")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    assert text == "EARLIER=1\n"


@pytest.mark.parametrize(
    "secrets",
    [
        "not json",
        "null",
        "",
        '{"secret": "CMS_SSH_PASSWORD", "env": "CMS_X", "file": false}',
        '["CMS_LAB_PASSWORD"]',
        '[{"secret": "CMS_SSH_PASSWORD", "env": "CMS_X"}]',
        '[{"secret": "CMS_SSH_PASSWORD", "env": "CMS_X", "file": "false"}]',
        '[{"secret": "CMS_SSH_PASSWORD", "env": 7, "file": false}]',
        '[{"secret": "CMS_SSH_PASSWORD\\u001fCMS_Y", "env": "CMS_X", "file": false}]',
    ],
)
def test_a_listing_that_is_not_a_list_of_slots_fails_the_step(github: GitHub, secrets: str) -> None:
    result, text = export(github, secrets, CMS_SSH_PASSWORD="pw")
    assert result.returncode == 1
    assert error_lines(result.stderr)
    assert text == ""


def test_without_cms_secrets_the_step_fails(github: GitHub) -> None:
    env_file = github.file("github-env", "")
    result = github.run("export-cluster-env.sh", GITHUB_ENV=str(env_file), CMS_SECRETS=None)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "::error::CMS_SECRETS is not set (the cluster's .secrets from reconcile clusters "
        "--format json)"
    ]
    assert Path(env_file).read_text() == ""
