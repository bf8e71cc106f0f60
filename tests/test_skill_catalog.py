from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gtm_pipeline.config import STARTER
from gtm_pipeline.skills.catalog import SkillFileError, load_catalog

REPO_SKILLS = STARTER / "skills"
SHIPPED = {"discover-prospects", "augment-profile", "draft-first-touch", "context-pack", "classify-reply"}


@pytest.fixture
def skills(tmp_path: Path) -> Path:
    target = tmp_path / "skills"
    shutil.copytree(REPO_SKILLS, target)
    return target


def test_the_shipped_skills_load_with_their_groups() -> None:
    catalog = load_catalog(REPO_SKILLS)
    assert set(catalog.skills) == SHIPPED
    draft = catalog.skill("draft-first-touch")
    assert draft.group.spec.mode == "copilot"
    assert draft.group.spec.providers[-1] == "offline"
    assert catalog.skill("augment-profile").group.spec.mode == "dark-factory"
    assert "writing-dark-factory" in catalog.groups


def test_promotion_moves_the_skill_and_keeps_its_code_version(skills: Path) -> None:
    before = load_catalog(skills).skill("draft-first-touch")
    shutil.move(
        skills / "writing-copilot" / "draft-first-touch",
        skills / "writing-dark-factory" / "draft-first-touch",
    )
    after = load_catalog(skills).skill("draft-first-touch")
    assert after.group.spec.mode == "dark-factory"
    assert after.code_version == before.code_version  # same text: no prospect becomes stale
    assert after.actor != before.actor  # but the journal records the group it ran under


def test_a_new_version_changes_the_code_version(skills: Path) -> None:
    path = skills / "research" / "augment-profile" / "SKILL.md"
    before = load_catalog(skills).skill("augment-profile").code_version
    path.write_text(path.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    assert load_catalog(skills).skill("augment-profile").code_version != before


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("relative", "old", "new", "field"),
    [
        ("research/augment-profile/SKILL.md", "version: 1.0.0\n", "", "version"),
        ("research/augment-profile/SKILL.md", "version: 1.0.0", "version: one", "version"),
        ("research/augment-profile/SKILL.md", "output: ProfileFinding", "output: Horoscope", "output"),
        ("research/augment-profile/SKILL.md", "name: augment-profile", "name: augment", "name"),
        ("research/augment-profile/SKILL.md", "max_attempts: 2", "max_attempts: 2\nretries: 9", "retries"),
        ("research/GROUP.md", "providers: [bulk, polish, offline]", "providers: [gpt-9]", "providers"),
        ("research/GROUP.md", "mode: dark-factory", "mode: autopilot", "mode"),
        ("research/augment-profile/SKILL.md", "---\nname", "name", "front matter"),
    ],
)
def test_a_broken_skill_file_names_the_file_and_the_field(
    skills: Path, relative: str, old: str, new: str, field: str
) -> None:
    _rewrite(skills / relative, old, new)
    with pytest.raises(SkillFileError) as info:
        load_catalog(skills)
    assert str(skills / relative) in str(info.value)
    assert field in str(info.value)


def test_a_skill_in_two_groups_is_an_error(skills: Path) -> None:
    shutil.copytree(
        skills / "writing-copilot" / "context-pack", skills / "writing-dark-factory" / "context-pack"
    )
    with pytest.raises(SkillFileError, match="also exists"):
        load_catalog(skills)


def test_a_group_folder_without_group_md_is_an_error(skills: Path) -> None:
    (skills / "writing-dark-factory" / "GROUP.md").unlink()
    with pytest.raises(SkillFileError, match=r"GROUP\.md"):
        load_catalog(skills)
