"""Documentation that cannot rot: every setting is in the README and .env.example, and
every integration event type in the README's Events table."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsproxy.config import Settings
from smsproxy.events import INTEGRATION_TYPES

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = sorted(name.upper() for name in Settings.model_fields)


@pytest.mark.parametrize("name", SETTINGS)
def test_setting_is_documented_in_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"| `{name}` |" in readme, f"{name} is missing from README's Configuration table"


@pytest.mark.parametrize("name", SETTINGS)
def test_setting_is_in_env_example(name: str) -> None:
    example = (ROOT / ".env.example").read_text()
    assert f"{name}=" in example, f"{name} is missing from .env.example"


def test_readme_documents_no_unknown_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert documented == set(SETTINGS)


def test_readme_lists_every_integration_event_type() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Events", 1)[1].split("\n#", 1)[0]
    listed = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert listed == {*INTEGRATION_TYPES, "ping"}
