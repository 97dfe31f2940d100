"""``run_validate`` on the real lab repository and through the real CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.desired.validate import run_validate
from tests.support.lab import LAB_MATERIAL
from tests.unit.desired.labrepo import CLUSTER, LabRepo

REPO = LAB_MATERIAL  # the built-in lab is a GitOps repository of its own
LAB_ENV = {"CMS_LAB_KEY_PASSPHRASE": "cms-lab", "CMS_LAB_PASSWORD": "x"}
# The lab bundle is valid from 2026-11-01 to 2031-11-01; pin a date inside it.
LAB_NOW = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)


def test_real_lab_cluster_is_valid() -> None:
    output, code = run_validate(REPO, ["lab"], None, "json", env=LAB_ENV, now=LAB_NOW)
    document = json.loads(output)
    assert code == 0, output
    [lab] = document["clusters"]
    # One warning only: the lab's server certificate (made elsewhere, as in the tech note)
    # names no node in its subjectAltName, which CMS 3.5 may check.
    [finding] = lab.pop("findings")
    assert (finding["severity"], finding["key"]) == ("warning", "certs.server_cert")
    assert "does not carry IP:127.0.85.73, DNS:cms1" in finding["message"]
    assert lab == {"name": "lab", "file": "clusters/lab.yaml", "ok": True}
    assert set(document["git"]) == {"commit", "dirty"}


def test_real_lab_without_passphrase_fails_naming_the_variable() -> None:
    output, code = run_validate(REPO, ["lab"], None, "text", env={}, now=LAB_NOW)
    assert code == 1
    assert (
        "error   clusters/lab.yaml: certs.key_passphrase_env: environment variable "
        "CMS_LAB_KEY_PASSPHRASE (named by certs.key_passphrase_env) is not set"
    ) in output
    assert "warning clusters/lab.yaml: ssh.password_env: environment variable CMS_LAB_PASSWORD" in (
        output
    )


def test_real_lab_expired_later() -> None:
    later = dt.datetime(2032, 1, 1, tzinfo=dt.UTC)
    output, code = run_validate(REPO, ["lab"], None, "json", env=LAB_ENV, now=later)
    assert code == 1
    keys = {f["key"] for f in json.loads(output)["clusters"][0]["findings"]}
    assert keys == {"certs.server_cert", "certs.client_cert"}


def test_cli_validate_ok_and_failing(repo: LabRepo, tmp_path: Path) -> None:
    repo.write(tmp_path)
    runner = CliRunner()
    args = ["validate", "--repo", str(tmp_path), "--cluster", CLUSTER]
    result = runner.invoke(app, args, env=repo.env)
    assert result.exit_code == 0, result.output
    assert "ok      cluster t (clusters/t.yaml): 0 errors, 0 warnings" in result.output

    repo.node(1)["address"] = "10.0.0.1"
    repo.write(tmp_path)
    result = runner.invoke(app, [*args, "--format", "json"], env=repo.env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert json.loads(result.output)["clusters"][0]["ok"] is False

    result = runner.invoke(app, ["validate", "--repo", str(tmp_path), "--cluster", "nope"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error: no cluster 'nope': clusters/nope.yaml does not exist" in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_schema_prints_the_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "cms-reconciler cluster"
