"""One settings object: the workspace file, the environment, the secrets file, their origins,
and one-line errors that name where a bad value came from."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from gtm_pipeline.config import STARTER, SettingsError, load_settings
from gtm_pipeline.config.workspace import describe, init_workspace, render_workspace_file
from tests.conftest import REPO


def _workspace(folder: Path, toml: str = "") -> Path:
    init_workspace(folder)
    if toml:
        (folder / "gtm.toml").write_text(toml)
    return folder


def test_outside_a_workspace_the_demo_defaults_apply_and_say_so(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path)
    assert settings.demo and settings.workspace is None
    assert settings.paths.home == tmp_path / "data"
    assert settings.paths.skills == STARTER / "skills" and not settings.paths.skills_editable
    assert settings.paths.corpus == STARTER / "corpus"
    assert settings.paths.database_url == f"sqlite:///{tmp_path / 'data' / 'gtm.sqlite'}"
    assert "demo defaults" in settings.mode_line() and "gtm init" in settings.mode_line()


def test_a_workspace_is_found_from_any_folder_below_it(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "campaign")
    below = root / "notes" / "drafts"
    below.mkdir(parents=True)
    settings = load_settings(cwd=below)
    assert settings.workspace == root and not settings.demo
    assert settings.paths.home == root / "data" and settings.paths.skills == root / "skills"
    assert settings.paths.skills_editable
    with pytest.raises(SettingsError, match=r"no gtm\.toml here"):
        load_settings(tmp_path / "elsewhere", cwd=tmp_path)


def test_the_generated_workspace_file_is_valid_toml_and_loads_to_the_defaults(tmp_path: Path) -> None:
    text = render_workspace_file()
    data = tomllib.loads(text)
    assert data["sending"]["mailbox_daily_cap"] == 30 and data["paths"]["skills"] == "skills"
    assert "secrets" not in data and "api_key" not in text.split("[providers]")[1].split("\n[")[0].lower()
    root = _workspace(tmp_path / "ws")
    settings = load_settings(cwd=root)
    assert settings.sender.signature.startswith("Best regards,\nAlex Morgan")
    assert settings.sending.mailbox_daily_cap == 30
    # every value in the file is reported as coming from it
    assert settings.origin("sending.mailbox_daily_cap").kind == "file"
    assert settings.origin("paths.database_url").kind == "default"  # commented out in the file


def test_the_environment_overrides_the_file_and_each_value_knows_its_origin(tmp_path: Path) -> None:
    root = _workspace(
        tmp_path / "ws",
        '[sending]\nmailbox_daily_cap = 12\n[sender]\ndomains = ["a.example", "b.example"]\n'
        '[providers.bulk]\nmodel = "my-model"\n',
    )
    env = {"GTM_MAILBOX_DAILY_CAP": "7", "GTM_SENDER_SIGNATURE": "Cheers,\\nAna"}
    settings = load_settings(cwd=root, environ=env)
    assert settings.sending.mailbox_daily_cap == 7
    assert settings.origin("sending.mailbox_daily_cap").label() == "env GTM_MAILBOX_DAILY_CAP"
    assert settings.sender.domains == ["a.example", "b.example"]
    assert settings.origin("sender.domains").label() == "gtm.toml"
    assert settings.sender.signature == "Cheers,\nAna"
    assert settings.providers.bulk.model == "my-model"
    assert settings.origin("providers.polish.model").kind == "default"  # not in this file
    listed = load_settings(cwd=root, environ={"GTM_SENDER_DOMAINS": "x.example, y.example"})
    assert listed.sender.domains == ["x.example", "y.example"]


def test_relative_paths_follow_the_file_or_the_current_folder(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", '[paths]\nhome = "state"\ncorpus = "../shared/corpus"\n')
    other = tmp_path / "elsewhere"
    other.mkdir()
    settings = load_settings(root, cwd=other)
    assert settings.paths.home == root / "state"
    assert settings.paths.corpus == (tmp_path / "shared" / "corpus").resolve()
    from_env = load_settings(root, cwd=other, environ={"GTM_HOME": "here"})
    assert from_env.paths.home == other / "here"


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ('[sending]\nmailbox_daily_cap = "lots"\n', {}, r"gtm\.toml: sending\.mailbox_daily_cap: .*integer"),
        (
            "",
            {"GTM_MAILBOX_DAILY_CAP": "lots"},
            r"GTM_MAILBOX_DAILY_CAP: sending\.mailbox_daily_cap: .*integer",
        ),
        ("[sending]\nmailbox_cap = 3\n", {}, r"sending\.mailbox_cap: unknown setting"),
        ("[sendng]\n", {}, r"sendng: unknown setting"),
        ("", {"GTM_SEND_WINDOW_END": "25"}, r"GTM_SEND_WINDOW_END: sending\.window_end_hour: .*0\.\.24"),
        ("[privacy]\nrights_response_days = 120\n", {}, r"privacy\.rights_response_days: .*90"),
        ("[sending\n", {}, r"not valid TOML"),
    ],
)
def test_a_bad_value_is_one_line_naming_where_the_key_and_why(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    root = _workspace(tmp_path / "ws", toml)
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(cwd=root, environ=env)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "toml",
    [
        '[secrets]\nresend_api_key = "re_x"\n',
        '[providers.bulk]\napi_key = "nvapi-x"\n',
        '[console]\noperator_password = "hunter2"\n',
        '[paths]\ndatabase_url = "postgresql+psycopg://gtm:s3cret@db/gtm"\n',
    ],
)
def test_a_secret_in_the_workspace_file_stops_loading(tmp_path: Path, toml: str) -> None:
    root = _workspace(tmp_path / "ws", toml)
    with pytest.raises(SettingsError, match=r"never go in gtm\.toml|carries a password") as caught:
        load_settings(cwd=root)
    for secret in ("re_x", "nvapi-x", "hunter2", "s3cret"):
        assert secret not in str(caught.value)


def test_secrets_come_from_the_environment_or_the_secrets_file_and_are_never_shown(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    secrets = root / "secrets.env"
    secrets.write_text("ANTHROPIC_API_KEY=from-the-file\nRESEND_API_KEY=resend-from-file\n")
    secrets.chmod(0o600)
    settings = load_settings(cwd=root, environ={"RESEND_API_KEY": "resend-from-env"})
    assert settings.secret("anthropic_api_key") == "from-the-file"
    assert settings.origin("secrets.anthropic_api_key").kind == "secrets file"
    assert settings.secret("resend_api_key") == "resend-from-env"  # the environment wins
    assert settings.secret("bulk_api_key") is None
    shown = "\n".join(f"{k} {v} {o}" for k, v, o in describe(settings))
    assert "from-the-file" not in shown and "resend-from" not in shown
    assert "secrets.anthropic_api_key set (redacted)" in shown and "secrets.bulk_api_key not set" in shown
    assert "from-the-file" not in repr(settings)

    exported: dict[str, str] = {"RESEND_API_KEY": "resend-from-env"}
    assert settings.export_secrets(exported) == ["ANTHROPIC_API_KEY"]  # for Dagster's EnvVar
    assert exported["ANTHROPIC_API_KEY"] == "from-the-file"


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("ANTHROPIC_API_KEY=k\n", 0o644, "readable by other users; run `chmod 600"),
        ("GTM_FROM=me@x.example\n", 0o600, "GTM_FROM is not a secret: put it in gtm.toml"),
        ("SOMETHING_ELSE=1\n", 0o600, "SOMETHING_ELSE: not a secret this project reads"),
    ],
)
def test_a_secrets_file_that_cannot_be_trusted_is_refused(
    tmp_path: Path, content: str, mode: int, message: str
) -> None:
    root = _workspace(tmp_path / "ws")
    (root / "secrets.env").write_text(content)
    (root / "secrets.env").chmod(mode)
    with pytest.raises(SettingsError, match=message):
        load_settings(cwd=root)


def test_init_copies_the_starter_skills_and_hypotheses_and_refuses_to_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    written = init_workspace(root)
    assert {p.name for p in written} >= {"skills", "hypotheses", "gtm.toml", "secrets.env", ".gitignore"}
    assert sorted(p.name for p in (root / "skills").iterdir()) == sorted(
        p.name for p in (STARTER / "skills").iterdir() if p.name != "__pycache__"
    )
    assert (root / "secrets.env").stat().st_mode & 0o777 == 0o600
    assert "/secrets.env" in (root / ".gitignore").read_text()
    with pytest.raises(SettingsError, match="exists already"):
        init_workspace(root)


# Composition roots that set the process's environment for the in-process Dagster runs they start,
# and put back exactly what was there (they read it only to restore it).
ENVIRONMENT_WRITERS = {"sample_web.py": "gtm demo routes the sample domains to the web twin"}


def test_no_module_reads_configuration_behind_the_settings() -> None:
    """The settings are the only reader of configuration: no other module reads the environment.

    (Writing a variable for a child process, such as DAGSTER_HOME for Dagster, is allowed.)"""
    readers = []
    for path in sorted((REPO / "gtm_pipeline").rglob("*.py")):
        if "config" in path.relative_to(REPO / "gtm_pipeline").parts[:1]:
            continue
        if path.relative_to(REPO / "gtm_pipeline").as_posix() in ENVIRONMENT_WRITERS:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("getenv", "environ"):
                parent_ok = False
                for outer in ast.walk(tree):
                    if isinstance(outer, ast.Assign) and any(
                        isinstance(t, ast.Subscript) and t.value is node for t in outer.targets
                    ):
                        parent_ok = True
                if not parent_ok:
                    readers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert readers == [], f"configuration read outside gtm_pipeline/config: {readers}"
