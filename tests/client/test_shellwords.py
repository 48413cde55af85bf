"""Bash's words of a pasted command, with real bash as the judge; what bash would do that a
file cannot say is refused."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from sniper.client.shellwords import bash_words
from sniper.errors import ConfigError

BASH = shutil.which("bash")

# Each line is given to bash as the arguments of printf, and to bash_words: the same words.
QUOTING = [
    r"plain words  and   blanks",
    r"'single $quotes \n keep \ everything'",
    r'"double: \" \\ \$ \` kept: \n \x \a"',
    '"a backslash-newline in double quotes \\\nvanishes"',
    "continued \\\n  line",
    r"'adjacent'\"pieces\"joined$'\x41'and\ blank",
    r"$'\a\b\e\E\f\n\r\t\v\\\'\"\?'",
    r"$'\x41\x4a\xe5\xb0\xbd \x4 \xZ'",
    r"$'\u5c3d \u41 \U0001F600 \U41'",
    r"$'\101\60\0601 \7'",
    r"$'\cA\ca\c?\c[\c\\x'",
    r"$'unknown \q \z escapes'",
    r"$'a NUL \0 ends the word' next",
    r"a$'b\0c'd$'\x00'e",
    "a trailing backslash stays \\",
    r"$'\xff\xfe' bytes",
    r"$\"a translated string\"",
    r"a\$b c$ d$/e '$HOME' \"$\"",
    r"a#b 'c' # a comment",
    r"'{\"json\":[1,2]}' x?y* [z]",
    r"'' \"\" $'' empty-words",
]


def _bash(line: str) -> list[str]:
    assert BASH is not None
    printed = subprocess.run(
        [BASH, "-c", f"printf '%s\\0' {line}"],
        capture_output=True,
        check=True,
        timeout=5,
        env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
    ).stdout
    return [w.decode("utf-8", "surrogateescape") for w in printed.split(b"\0")[:-1]]


@pytest.mark.skipif(BASH is None and os.environ.get("CI") != "true", reason="no bash")
@pytest.mark.parametrize("line", QUOTING)
def test_the_words_bash_makes(line: str) -> None:
    """Quotes, escapes and pieces: the words bash would pass, byte for byte."""
    assert bash_words(line) == _bash(line)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a $HOME", r"\$HOME is a shell expansion"),
        ("a ${X}", r"\$\{…\} is a shell expansion"),
        ('a "$(date)"', r"\$\(…\) is a shell expansion"),
        ('a "`date`"', "`…` is a shell expansion"),
        ("a $1", r"\$1 is a shell expansion"),
        ("a `date`", "outside quotes would end the curl command"),
        ("http://x/?a=1&b=2", "'&' outside quotes would end the curl command in bash"),
        ("a | b", "'|' outside quotes"),
        ("a; b", "';' outside quotes"),
        ("a > f", "'>' outside quotes"),
        ("curl x\n  -H y", "line 2 starts a second command"),
        ("a ~/cookies.txt", "~ at the start of a word is your home folder"),
        ("a 'b", "a ' is never closed"),
        ('a "b', 'a " is never closed'),
        ("a $'b", r"a \$' is never closed"),
    ],
)
def test_what_bash_would_expand_is_refused(line: str, message: str) -> None:
    """A variable, a command, a second command, an open quote: one clear line."""
    with pytest.raises(ConfigError, match=message):
        bash_words(line)


def test_a_trailing_line_break_and_crlf_are_fine() -> None:
    """A pasted command ends with a line break; one pasted on Windows has CRLF."""
    assert bash_words("curl \\\r\n  'x'\r\n\r\n") == ["curl", "x"]
