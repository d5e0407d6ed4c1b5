"""The operator's documentation holds together: the README's two commands first (CI reads the test command there),
every relative link in README, CHANGELOG and docs/ resolves, and the CHANGELOG's newest entry is the version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from hydra_ops import PROJECT_ROOT

PAGES = sorted([PROJECT_ROOT / "README.md", PROJECT_ROOT / "CHANGELOG.md", *(PROJECT_ROOT / "docs").glob("*.md")])


def test_the_readme_starts_with_the_two_commands() -> None:
    first_block = PROJECT_ROOT.joinpath("README.md").read_text().split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.split("#")[0].strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    text = page.read_text()
    anchors_missing = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: link to {target} leads nowhere"
        if anchor and dest.suffix == ".md":
            slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                     for h in re.findall(r"^#+ (.+)$", dest.read_text(), flags=re.M)}
            if anchor not in slugs:
                anchors_missing.append(target)
    assert anchors_missing == [], f"{page.name}: no heading for {anchors_missing}"


def test_the_newest_changelog_entry_is_the_version() -> None:
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    newest = re.search(r"^## (\S+)", (PROJECT_ROOT / "CHANGELOG.md").read_text(), flags=re.M)
    assert newest and newest.group(1) == version, f"CHANGELOG's newest entry is not {version}"
