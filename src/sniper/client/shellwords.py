"""The words of one pasted command line, as the shell would give them to the program. Pure.

Two shells: bash (what "Copy as cURL (bash)" and most hand-written commands are for) and Windows
cmd.exe (Chrome's "Copy as cURL (cmd)"). Bash's quoting is followed to the letter: ``'…'`` is
literal; in ``"…"`` a backslash escapes only ``$ ` " \\`` and a line break (which then vanishes);
``$'…'`` undoes C escapes (``\\n``, ``\\xHH`` as a byte, ``\\uHHHH`` as UTF-8, ``\\'``, octal,
``\\cX``…); pieces next to each other make one word. What bash would do and a file cannot say
(a variable, a command substitution, a pipe, a second command) is refused, not guessed.

Words are ``str``; the bytes bash would pass that are not UTF-8 (``$'\\xff'``) are kept as
lone surrogates (``surrogateescape``), so that ``word.encode("utf-8", "surrogateescape")`` is
exactly what the program would get.
"""

from __future__ import annotations

import re

from sniper.errors import ConfigError

CMD_HINT = 'use "Copy as cURL (bash)" in the browser instead'

_BLANKS = " \t"
_OPERATORS = "|&;<>()`"
_SIMPLE_ESCAPES = {
    "a": b"\a",
    "b": b"\b",
    "e": b"\x1b",
    "E": b"\x1b",
    "f": b"\f",
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
    "v": b"\v",
    "\\": b"\\",
    "'": b"'",
    '"': b'"',
    "?": b"?",
}
_HEX = {"x": 2, "u": 4, "U": 8}
# A $ that starts an expansion (a line continuation between them is no separation for bash).
_EXPANSION = re.compile(r"\$(?:\\\n)*[A-Za-z_{(\[0-9@*#?!$-]")


class _Words:
    """The words being built: bytes, as bash hands them over."""

    def __init__(self) -> None:
        self.words: list[bytes] = []
        self.word = bytearray()
        self.started = False

    def add(self, data: bytes | str) -> None:
        self.word += data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        self.started = True

    def end(self) -> None:
        if self.started:
            self.words.append(bytes(self.word))
        self.word, self.started = bytearray(), False

    def done(self) -> list[str]:
        self.end()
        return [w.decode("utf-8", "surrogateescape") for w in self.words]


def bash_words(command: str) -> list[str]:
    """The words bash would pass for ``command`` (one command; line continuations allowed)."""
    text = command.replace("\r\n", "\n")
    out = _Words()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _BLANKS:
            out.end()
            i += 1
        elif ch == "\n":
            _check_one_command(text, i)
            break
        elif ch == "#" and not out.started:
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif ch == "~" and not out.started:
            raise ConfigError(
                "curl: ~ at the start of a word is your home folder in bash: write the path "
                "out in full, or put the ~ in quotes"
            )
        else:
            i = _piece(text, i, out)
    return out.done()


def _check_one_command(text: str, i: int) -> None:
    """A line break outside quotes ends the command: nothing may follow but blanks."""
    if text[i:].strip():
        line = text[: i + 1].count("\n") + 1
        raise ConfigError(
            f"curl: line {line} starts a second command (a line break without \\ before it "
            "ends the first): join the lines, or end each with \\"
        )


def _piece(text: str, i: int, out: _Words) -> int:
    """One piece of a word from ``i`` (a character, an escape, a quoted part); returns the
    index past it."""
    ch = text[i]
    if ch == "\\":
        # A backslash escapes the next character; a line break it joins; a last one stays.
        following = text[i + 1 : i + 2] or "\\"
        if following != "\n":
            out.add(following)
        return i + 2
    if ch == "'":
        end = _closing(text, i + 1, "'")
        out.add(text[i + 1 : end])
        return end + 1
    if ch == '"':
        return _double(text, i + 1, out)
    if text.startswith("$'", i):
        return _ansi_c(text, i + 2, out)
    if text.startswith('$"', i):  # a translated string: no translation, as in the C locale
        return _double(text, i + 2, out)
    if ch == "$" and _EXPANSION.match(text, i):
        raise _expansion(text, i)
    if ch in _OPERATORS:
        raise ConfigError(
            f"curl: {ch!r} outside quotes would end the curl command in bash: quote it "
            "(the URL in '…', for instance)"
        )
    out.add(ch)
    return i + 1


def _closing(text: str, start: int, quote: str) -> int:
    end = text.find(quote, start)
    if end < 0:
        raise ConfigError(f"curl: cannot split the command: a {quote} is never closed")
    return end


def _expansion(text: str, i: int) -> ConfigError:
    name = re.match(r"\$[A-Za-z_][A-Za-z_0-9]*", text[i:])
    if name is not None:
        what = name.group(0)
    else:
        what = {"{": "${…}", "(": "$(…)", "[": "$[…]", "`": "`…`"}.get(
            text[i + 1 : i + 2] if text[i] == "$" else "`", text[i : i + 2]
        )
    return ConfigError(
        f"curl: {what} is a shell expansion (a variable or a command): the file must hold its "
        "value; put it in '…' if the $ is meant literally"
    )


def _double(text: str, i: int, out: _Words) -> int:
    """Inside ``"…"`` from ``i``; returns the index past the closing quote."""
    out.add(b"")
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return i + 1
        if ch == "\\" and text[i + 1 : i + 2] in ("$", "`", '"', "\\", "\n"):
            if text[i + 1] != "\n":
                out.add(text[i + 1])
            i += 2
            continue
        if ch == "`" or (ch == "$" and _EXPANSION.match(text, i)):
            raise _expansion(text, i)
        out.add(ch)
        i += 1
    raise ConfigError('curl: cannot split the command: a " is never closed')


def _ansi_c(text: str, i: int, out: _Words) -> int:
    """Inside ``$'…'`` from ``i``; returns the index past the closing quote."""
    piece = bytearray()
    while i < len(text):
        ch = text[i]
        if ch == "'":
            # A NUL ends bash's C string: of this $'…', what stands before it is passed.
            out.add(bytes(piece).split(b"\0", 1)[0])
            return i + 1
        if ch != "\\" or i + 1 >= len(text):
            piece += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        data, i = _escape(text, i + 1)
        piece += data
    raise ConfigError("curl: cannot split the command: a $' is never closed")


def _escape(text: str, i: int) -> tuple[bytes, int]:
    """The bytes of the escape after a backslash at ``i - 1``, and the index past it."""
    ch = text[i]
    if ch in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[ch], i + 1
    if ch in _HEX:
        digits = re.match(rf"[0-9A-Fa-f]{{1,{_HEX[ch]}}}", text[i + 1 :])
        if digits is None:  # no digit: bash keeps the escape as it is
            return f"\\{ch}".encode(), i + 1
        value = int(digits.group(0), 16)
        data = bytes([value]) if ch == "x" else _code_point(value)
        return data, i + 1 + len(digits.group(0))
    octal = re.match(r"[0-7]{1,3}", text[i:])
    if octal is not None:
        return bytes([int(octal.group(0), 8) & 0xFF]), i + len(octal.group(0))
    if ch == "c" and i + 1 < len(text):
        control = text[i + 1]
        # \c\\ is control-backslash: the escaped backslash is taken whole.
        width = 3 if text[i + 1 : i + 3] == "\\\\" else 2
        return bytes([0x7F if control == "?" else ord(control.upper()) & 0x1F]), i + width
    return f"\\{ch}".encode("utf-8", "surrogateescape"), i + 1


def _code_point(value: int) -> bytes:
    try:
        return chr(value).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        raise ConfigError(
            f"curl: \\u{value:X} in $'…' is not a character bash can write as UTF-8"
        ) from None


def is_cmd(command: str) -> bool:
    """Whether this is Windows cmd.exe's form: ``^"`` quotes, ``^`` at the ends of lines."""
    return re.search(r'(?:^|\s)\^"|\^\r?\n', command) is not None


def cmd_words(command: str) -> list[str]:
    """The words of Chrome's "Copy as cURL (cmd)". cmd.exe takes ``^x`` as ``x`` (outside
    double quotes), and ``^`` at a line end joins the next line, whose first character it takes
    as it is. Then, inside ``"…"``, Chrome's own escapes are undone: ``\\"`` is ``"`` and
    ``\\\\`` is ``\\`` (Chrome doubles every backslash)."""
    text = command.replace("\r\n", "\n")
    unescaped, quoted, i = [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "^" and not quoted and i + 1 < len(text):
            i += 2 if text[i + 1] == "\n" else 1
            ch = text[i] if i < len(text) else ""
        elif ch == '"':
            quoted = not quoted
        unescaped.append(ch)
        i += 1
    return _split_quoted("".join(unescaped))


def _split_quoted(text: str) -> list[str]:
    """Words between blanks; ``"…"`` holds blanks, and inside it ``\\"`` is ``"``, ``\\\\`` is
    ``\\``."""
    words: list[str] = []
    word: list[str] = []
    in_word = quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\" and text[i + 1 : i + 2] in ("\\", '"'):
            word.append(text[i + 1])
            i += 1
        elif ch == '"':
            quoted, in_word = not quoted, True
        elif ch.isspace() and not quoted:
            if in_word:
                words.append("".join(word))
            word, in_word = [], False
        else:
            word.append(ch)
            in_word = True
        i += 1
    if quoted:
        raise ConfigError(
            f"curl: a quote is never closed in this Windows (cmd) command; {CMD_HINT}"
        )
    return [*words, "".join(word)] if in_word else words
