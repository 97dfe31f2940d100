"""Cluster files are hostile input: alias bombs, merge keys, deep nesting and huge files.

Each is refused from the size or the parser's event stream, before anything is composed,
constructed or expanded, with a message that names the line (or the size) and the fix.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from reconciler.desired.yamlfile import ParsedYaml, parse_yaml
from tests.support.cli import RECONCILE
from tests.support.lab import LAB_MATERIAL
from tests.unit.desired.labrepo import LabRepo

REPO = Path(__file__).resolve().parents[3]
MAX_FILE_BYTES = 1_048_576  # 1 MiB
LAB = (LAB_MATERIAL / "clusters" / "lab.yaml").read_text()
ALIASES = "YAML anchors and aliases (&a / *a) are not allowed in cluster files; write the value out"


def messages(parsed: ParsedYaml) -> list[tuple[str, str]]:
    """(key, message) of each problem; positions are checked where they matter."""
    return [(problem.key, problem.message) for problem in parsed.problems]


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """``levels`` of ``&aN [*aM, *aM, ...]``: width**levels leaves once expanded."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def where(text: str, needle: str) -> str:
    """``line L, column C`` (1-based) of the first ``needle`` in ``text``."""
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def test_lab_cluster_file_still_parses() -> None:
    parsed = parse_yaml(LAB.encode())
    assert messages(parsed) == []
    assert parsed.data["name"] == "lab"
    assert parsed.lines["nodes[2].ssh_port"] == 11


@pytest.mark.reliability(
    section="hostile-input",
    case="a YAML alias bomb is refused before it expands",
)
def test_alias_bomb_is_refused_before_expansion() -> None:
    started = time.monotonic()
    parsed = parse_yaml(alias_bomb().encode())
    elapsed = time.monotonic() - started
    assert parsed.data is None
    assert messages(parsed) == [("", f"line 1, column 5: {ALIASES}")]
    assert elapsed < 5, f"took {elapsed:.1f} s: something expanded the aliases"


def test_a_single_harmless_alias_is_refused_at_its_anchor() -> None:
    text = LAB.replace("ssh_port: 2222}", "ssh_port: &port 2222}", 1).replace(
        "74, ssh_port: 2222}", "74, ssh_port: *port}"
    )
    assert "*port" in text
    parsed = parse_yaml(text.encode())
    assert parsed.data is None
    assert messages(parsed) == [("", f"{where(text, '&port')}: {ALIASES}")]
    assert where(text, "&port").startswith("line 9, column ")


def test_an_anchor_alone_is_refused() -> None:
    text = LAB.replace("name: lab", "name: &cluster lab")
    assert messages(parse_yaml(text.encode())) == [("", f"line 5, column 7: {ALIASES}")]


def test_an_alias_alone_is_refused_not_reported_as_undefined() -> None:
    text = LAB.replace("port: 22\n", "port: *ssh_port\n")
    assert messages(parse_yaml(text.encode())) == [("", f"{where(text, '*ssh_port')}: {ALIASES}")]


@pytest.mark.parametrize(
    ("merge", "needle"),
    [
        ("  - <<: {ssh_port: 2222}\n    name: cms4\n    address: 127.0.85.76\n", "<<"),
        ("  - !!merge x: {ssh_port: 2222}\n    name: cms4\n    address: 127.0.85.76\n", "!!"),
    ],
    ids=["plain", "tagged"],
)
def test_merge_keys_are_refused_even_without_an_alias(merge: str, needle: str) -> None:
    text = LAB.replace("ssh:\n", merge + "ssh:\n")
    parsed = parse_yaml(text.encode())
    assert parsed.data is None
    assert messages(parsed) == [
        (
            "",
            f"{where(text, needle)}: YAML merge keys (<<) are not allowed in cluster files; "
            "write the keys out",
        )
    ]
    assert where(text, needle).startswith("line 12, ")


def test_merge_key_with_alias_is_refused() -> None:
    text = LAB.replace("ssh:\n", "  - <<: *first\n    name: cms4\nssh:\n").replace(
        "  - {name: cms1", "  - &first {name: cms1"
    )
    parsed = parse_yaml(text.encode())
    assert parsed.data is None
    assert messages(parsed) == [("", f"line 9, column 5: {ALIASES}")]


def test_a_quoted_less_less_key_is_only_a_key() -> None:
    parsed = parse_yaml(b"name: t\n'<<': {a: 1}\n")
    assert messages(parsed) == []
    assert parsed.data == {"name": "t", "<<": {"a": 1}}


@pytest.mark.reliability(
    section="hostile-input",
    case="YAML nested too deep is refused, not a recursion error",
)
def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    for depth in (64, 5000):  # the top mapping is the first level
        parsed = parse_yaml(("a: " + "[" * depth + "]" * depth + "\n").encode())
        assert parsed.data is None
        assert messages(parsed) == [
            (
                "",
                "line 1, column 67: lists and mappings nested more than 64 levels deep are "
                "not allowed in cluster files",
            )
        ]
    assert messages(parse_yaml(("a: " + "[" * 63 + "]" * 63 + "\n").encode())) == []


@pytest.mark.reliability(
    section="hostile-input",
    case="a cluster file over 1 MiB is refused unread",
)
def test_a_file_over_one_mebibyte_is_refused_unread() -> None:
    raw = b"\xff" * (MAX_FILE_BYTES + 1)  # not UTF-8 either: the size is checked first
    started = time.monotonic()
    parsed = parse_yaml(raw)
    assert time.monotonic() - started < 1
    assert parsed.data is None
    assert messages(parsed) == [
        (
            "",
            "is 1,048,577 bytes, over the 1,048,576-byte (1 MiB) limit for a cluster file; "
            "it cannot be a hand-written configuration",
        )
    ]


def test_a_file_of_exactly_one_mebibyte_passes_the_size_check() -> None:
    raw = LAB.encode()
    raw += b"#" * (MAX_FILE_BYTES - len(raw) - 1) + b"\n"
    assert len(raw) == MAX_FILE_BYTES
    parsed = parse_yaml(raw)
    assert messages(parsed) == []
    assert parsed.data["name"] == "lab"


def test_validate_names_file_and_line_of_an_alias(repo: LabRepo, tmp_path: Path) -> None:
    repo.text = repo.yaml_text().replace("username: admin", "username: &user admin")
    output, code = repo.validate(tmp_path, output_format="text")
    assert code == 1
    assert f"error   clusters/t.yaml: {where(repo.text, '&user')}: {ALIASES}" in output


@pytest.mark.reliability(
    section="hostile-input",
    case="hostile YAML (aliases, merge keys, nesting) is refused by the CLI, no traceback",
)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (alias_bomb(), f"clusters/lab.yaml: line 1, column 5: {ALIASES}"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64 levels deep"),
    ],
    ids=["alias-bomb", "deep-nesting"],
)
def test_cli_validate_refuses_hostile_yaml(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "lab.yaml").write_text(text)
    try:
        done = subprocess.run(
            [*RECONCILE, "validate", "--repo", str(tmp_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("validate did not finish in 60 s: the YAML was expanded")
    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("value", "cause"),
    [("2026-02-30", "day is out of range"), ("9" * 5000, "digits")],
)
def test_a_value_python_cannot_build_is_a_problem_on_its_line(value: str, cause: str) -> None:
    """Review finding: these raised ValueError out of validate (a traceback in CI)."""
    parsed = parse_yaml(f"name: t\nrenew_before: {value}\n".encode())
    assert parsed.data is None
    [problem] = parsed.problems
    assert (problem.line, problem.column) == (2, 15)
    assert cause in problem.message


@pytest.mark.reliability(
    section="hostile-input",
    case="a known_hosts or certificate file over 1 MiB is refused before it is read",
)
def test_a_desired_file_over_one_mebibyte_is_refused_before_it_is_read(
    repo: LabRepo, tmp_path: Path
) -> None:
    """Certificates and known_hosts too: the working tree checks the size before reading."""
    repo.files["clusters/known_hosts"] = b"#" * (1_048_576 + 1)
    findings, code = repo.findings(tmp_path)
    assert code == 1
    assert any("over the 1,048,576-byte (1 MiB) limit" in f["message"] for f in findings)
