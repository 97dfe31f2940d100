"""``validate --format github``: one annotation per finding, on the YAML line it concerns."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.desired.findings import Severity, SpecFinding
from reconciler.desired.validate import github_annotation
from tests.unit.desired.labrepo import LabRepo

ANNOTATION = re.compile(r"^::(error|warning) file=([^,:]+)(?:,line=(\d+)(?:,col=(\d+))?)?::(.*)$")


def parsed_annotations(output: str) -> list[tuple[str, str, int | None, int | None, str]]:
    found = []
    for line in output.splitlines():
        match = ANNOTATION.match(line)
        if match:
            kind, file, row, col, text = match.groups()
            found.append((kind, file, int(row) if row else None, int(col) if col else None, text))
    return found


def line_and_column(text: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in the file")


def test_a_valid_cluster_has_no_annotation(repo: LabRepo, tmp_path: Path) -> None:
    output, code = repo.validate(tmp_path, "github")
    assert code == 0
    assert parsed_annotations(output) == []
    assert "ok" in output


def test_a_typod_key_is_annotated_on_its_line_and_column(repo: LabRepo, tmp_path: Path) -> None:
    ssh = repo.doc["ssh"]
    repo.doc["ssh"] = {("pasword_env" if k == "password_env" else k): v for k, v in ssh.items()}
    output, code = repo.validate(tmp_path, "github")
    assert code == 1
    [(kind, file, row, col, text)] = parsed_annotations(output)
    assert (kind, file) == ("error", "clusters/t.yaml")
    assert (row, col) == line_and_column(repo.yaml_text(), "pasword_env")
    assert text.startswith("ssh.pasword_env: unknown key")
    assert "did you mean 'password_env'" in text


def test_a_certificate_finding_points_at_the_line_that_names_the_file(
    repo: LabRepo, tmp_path: Path
) -> None:
    repo.doc["certs"]["client_cert"] = "certs/t/missing.cer"
    output, code = repo.validate(tmp_path, "github")
    assert code == 1
    found = [a for a in parsed_annotations(output) if "certs.client_cert" in a[4]]
    assert found, output
    assert {(row, col) for _, _, row, col, _ in found} == {
        line_and_column(repo.yaml_text(), "client_cert:")
    }


def test_an_alias_is_annotated_where_it_stands(repo: LabRepo, tmp_path: Path) -> None:
    text = repo.yaml_text().replace("  port: 22\n", "  port: &p 22\n")
    repo.text = text + "renew_before_copy: *p\n"
    output, _ = repo.validate(tmp_path, "github")
    [(kind, _, row, col, message)] = parsed_annotations(output)
    assert kind == "error"
    assert (row, col) == line_and_column(repo.text, "&p")
    assert "anchors and aliases" in message


def test_a_warning_is_a_warning_annotation(repo: LabRepo, tmp_path: Path) -> None:
    del repo.env["T_PASSWORD"]  # a missing secret is reported, not fatal offline
    output, _ = repo.validate(tmp_path, "github")
    kinds = {kind for kind, *_ in parsed_annotations(output)}
    assert "warning" in kinds, output


def test_messages_and_properties_are_escaped() -> None:
    finding = SpecFinding(
        severity=Severity.ERROR,
        file="clusters/a,b:c.yaml",
        key="certs.ca_cert",
        message="100% wrong\nsecond line",
        line=3,
        column=2,
    )
    assert github_annotation(finding) == (
        "::error file=clusters/a%2Cb%3Ac.yaml,line=3,col=2::"
        "certs.ca_cert: 100%25 wrong%0Asecond line"
    )


def test_a_finding_without_a_line_annotates_the_file() -> None:
    finding = SpecFinding(
        severity=Severity.WARNING, file="clusters/t.yaml", key="", message="empty"
    )
    assert github_annotation(finding) == "::warning file=clusters/t.yaml::empty"
