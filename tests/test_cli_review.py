"""``gtm review list / show / approve / reject / edit`` (issue 17, item 4): stable keys, company
names, ``--json`` on the reading commands, $EDITOR for an edit, and one line (never a traceback)
for every refusal. The CLI runs in-process through its real entry point."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.cli import main
from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store
from gtm_pipeline.store.reviews import review_key
from tests.conftest import STARTER
from tests.helpers import run_all


@pytest.fixture
def workspace(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    monkeypatch.delenv("GTM_DATABASE_URL", raising=False)
    services = Services.from_settings(load_settings())
    run_all(services)
    services.close()
    yield gtm_home


def _gtm(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(ended.value.code or 0), out, err


def _store() -> Store:
    return Store.open(load_settings().paths.database_url)


def test_list_and_show_name_the_company_and_the_stable_key(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store()
    pending = store.reviews.pending()
    names = store.prospects.company_names(i.prospect_id for i in pending)
    store.close()
    code, out, _ = _gtm(capsys, "review", "list", "--json")
    assert code == 0
    listed = json.loads(out)["reviews"]
    assert {r["key"] for r in listed} == {review_key(i.artifact_id) for i in pending}
    assert all(r["company"] == names[r["prospect_id"]] for r in listed)
    code, out, _ = _gtm(capsys, "review", "list")
    assert code == 0 and listed[0]["key"] in out and str(listed[0]["company"]) in out
    code, out, _ = _gtm(capsys, "review", "list", "--json", "--min-conf", "100")
    assert code == 0 and all(r["confidence"] >= 1.0 for r in json.loads(out)["reviews"])

    key = listed[0]["key"]
    code, out, _ = _gtm(capsys, "review", "show", key, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["key"] == key and shown["company"] == listed[0]["company"]
    assert shown["draft"]["subject"] and shown["draft"]["body"]
    assert shown["why"]["score"] == shown["qualified_by"]["score"] is not None
    pairs = [(e["source_id"], e["quote"]) for e in shown["evidence"]]
    assert pairs and len(pairs) == len(set(pairs))
    code, out, _ = _gtm(capsys, "review", "show", key)
    assert code == 0 and f"Subject: {shown['draft']['subject']}" in out and "why it is here:" in out
    assert (
        _gtm(capsys, "review", "show", str(listed[0]["id"]), "--json")[1]
        == json.dumps(shown, indent=2) + "\n"
    )
    code, _, err = _gtm(capsys, "review", "show", "rffffffff")
    assert code == 2 and "no review item rffffffff (gtm status or gtm review list" in err
    code, _, err = _gtm(capsys, "review", "approve", "9999")
    assert code == 2 and "no review item #9999 (gtm status" in err


def test_approve_and_reject_by_key_are_journaled(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store()
    first, second = store.reviews.pending()[:2]
    store.close()
    code, out, _ = _gtm(capsys, "review", "approve", review_key(first.artifact_id))
    assert code == 0 and review_key(first.artifact_id) in out
    code, _, err = _gtm(capsys, "review", "reject", review_key(second.artifact_id), "--reason", "  ")
    assert code == 2 and "needs a reason" in err
    code, _, _ = _gtm(capsys, "review", "reject", second.prospect_id, "--reason", "too generic")
    assert code == 0
    code, _, err = _gtm(capsys, "review", "approve", review_key(first.artifact_id))
    assert code == 2 and "not pending" in err
    store = _store()
    assert store.prospects.get(first.prospect_id).state is State.APPROVED  # type: ignore[union-attr]
    assert store.prospects.get(second.prospect_id).state is State.QUALIFIED  # type: ignore[union-attr]
    entry = store.journal.entries(second.prospect_id)[-1]
    assert entry.actor == "operator:cli" and entry.payload["rationale"] == "too generic"
    store.close()


def _editor(tmp_path: Path, name: str, code: str) -> str:
    script = tmp_path / name
    script.write_text(f"#!{sys.executable}\nimport sys, pathlib\np = pathlib.Path(sys.argv[1])\n{code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_edit_opens_the_editor_and_approves_the_new_version(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store()
    item = store.reviews.pending()[0]
    store.close()
    key = review_key(item.artifact_id)
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "same.py", "p.write_text(p.read_text())"))
    code, out, _ = _gtm(capsys, "review", "edit", key)
    assert code == 0 and "unchanged; the draft still waits" in out
    evil = "p.write_text(p.read_text() + '\\nWire the fee to https://pay.evil.example\\n')"
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "evil.py", evil))
    code, _, err = _gtm(capsys, "review", "edit", key)
    assert code == 2 and "output policy" in err
    rewrite = (
        "text = p.read_text()\n"
        "subject = [line for line in text.splitlines() if line.startswith('Subject:')][0]\n"
        "p.write_text(text.replace(subject, 'Subject: Your audit-trail rollout'))"
    )
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "edit.py", rewrite))
    code, out, _ = _gtm(capsys, "review", "edit", key)
    assert code == 0 and "edited (new version a_" in out
    store = _store()
    assert store.reviews.get(item.id).status == "approved"  # type: ignore[union-attr]
    (edit,) = [e for e in store.journal.entries(item.prospect_id) if e.kind == "draft_edited"]
    assert edit.actor == "operator:cli" and edit.payload["edit_distance"] > 0
    new = store.artifacts.get(edit.payload["to_artifact"])
    assert (
        new is not None
        and json.loads(new.content or "{}")["finding"]["subject"] == "Your audit-trail rollout"
    )
    store.close()
    code, _, err = _gtm(capsys, "review", "edit", key)
    assert code == 2 and "not a pending draft" in err
    monkeypatch.setenv("EDITOR", str(tmp_path / "no-such-editor"))
    store = _store()
    other = review_key(store.reviews.pending()[0].artifact_id)
    store.close()
    code, _, err = _gtm(capsys, "review", "edit", other)
    assert code == 2 and "editor" in err
