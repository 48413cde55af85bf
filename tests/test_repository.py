"""Promises the repository makes about itself."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _code_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```(?:sh)?\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command() -> None:
    """README's second command (the tests) is, verbatim, what .ci/run runs."""
    readme_blocks = _code_blocks((ROOT / "README.md").read_text())
    assert "pytest" in readme_blocks[1]
    assert readme_blocks[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    """The first two code blocks come before any other section."""
    text = (ROOT / "README.md").read_text()
    first_section = text.index("\n## ")
    assert text.count("```", 0, first_section) == 4
