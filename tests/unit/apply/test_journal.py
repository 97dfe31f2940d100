"""The journal never keeps a secret, whatever characters it has."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.apply.journal import Journal
from reconciler.mmp.session import Redactor


def test_secrets_with_json_special_characters_are_redacted(tmp_path: Path) -> None:
    secret = 'pa"ss\\wörd'
    journal = Journal(tmp_path / "j.jsonl", Redactor([secret]))
    journal.write("command", output=f"echo {secret}", nested={"list": [secret]})
    text = (tmp_path / "j.jsonl").read_text()
    assert secret not in text
    assert json.dumps(secret)[1:-1] not in text  # nor its JSON-escaped form
    events = journal.events()
    assert events[0]["output"] == "echo ****"
    assert events[0]["nested"] == {"list": ["****"]}
