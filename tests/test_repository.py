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


def _task_fields(text: str, heading: str) -> set[str]:
    """The first-column names of the task-file table under ``heading``."""
    section = text[text.index(heading) :]
    table = section[section.index("\n|") : section.index("\n\n", section.index("\n|"))]
    return {
        name
        for row in table.splitlines()[3:]
        for name in re.findall(r"`([\w.]+)`", row.split("|")[1])
    }


def test_chinese_readme_has_every_task_field() -> None:
    """README.zh-CN.md's task-file table names every field README.md's does."""
    english = _task_fields((ROOT / "README.md").read_text(), "### Task file")
    chinese = _task_fields((ROOT / "README.zh-CN.md").read_text(), "### 任务文件")
    assert {"preflight_s", "notify", "request", "rules"} <= english
    assert english - chinese == set()


def test_both_readmes_name_every_command() -> None:
    """Every ``sniper`` command appears in both READMEs."""
    from sniper.cli import cli

    for readme in ("README.md", "README.zh-CN.md"):
        text = (ROOT / readme).read_text()
        missing = [name for name in cli.commands if f"sniper {name}" not in text]
        assert missing == [], f"{readme}: {missing}"


def test_documented_shell_completion_works() -> None:
    """The completion line both READMEs give prints a bash completion script."""
    import os
    import subprocess
    import sys

    line = "_SNIPER_COMPLETE=bash_source sniper"
    assert line in (ROOT / "README.md").read_text()
    assert line in (ROOT / "README.zh-CN.md").read_text()
    script = Path(sys.executable).parent / "sniper"
    done = subprocess.run(
        [str(script)],
        env={**os.environ, "_SNIPER_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "complete -o nosort -F _sniper_completion sniper" in done.stdout
