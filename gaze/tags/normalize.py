"""Turning prompt-style tag text into lookup keys.

Danbooru names use underscores (``long_hair``); prompts use spaces, escaped
parentheses (``saber \\(fate\\)``) and attention weights (``(long hair:1.2)``,
``[smile]``, ``{{masterpiece}}``).  Everything here is pure string handling.
"""

from __future__ import annotations

import re

_WEIGHT_SUFFIX = re.compile(r"\s*:\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*$")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


def tag_key(text: str) -> str:
    """The lookup key of a tag: trimmed, lower case, spaces as underscores, unescaped."""
    return "_".join(unescape(text).lower().split())


def unescape(text: str) -> str:
    r"""Drop prompt-syntax backslashes: ``\(`` -> ``(``, ``\)`` -> ``)`` (also ``\[`` ``\]``)."""
    if "\\" not in text:
        return text
    return re.sub(r"\\([()\[\]{}\\:])", r"\1", text)


def _is_escaped(text: str, index: int) -> bool:
    """Whether the character at ``index`` is preceded by an odd number of backslashes."""
    count = 0
    index -= 1
    while index >= 0 and text[index] == "\\":
        count += 1
        index -= 1
    return count % 2 == 1


def _wrapped(text: str) -> bool:
    """Whether ``text`` is one unescaped bracket pair around everything."""
    if len(text) < 2 or text[0] not in _BRACKETS or text[-1] != _BRACKETS[text[0]]:
        return False
    if _is_escaped(text, len(text) - 1):
        return False
    opener, closer = text[0], text[-1]
    depth = 0
    for index, char in enumerate(text):
        if char in (opener, closer) and not _is_escaped(text, index):
            depth += 1 if char == opener else -1
            if depth == 0 and index != len(text) - 1:
                return False  # e.g. "(a) (b)": the first pair closes early
    return depth == 0


def strip_weight(text: str) -> str:
    """Peel attention syntax: ``((long hair:1.2))`` -> ``long hair``; escapes are kept."""
    text = text.strip()
    while True:
        if _wrapped(text):
            text = text[1:-1].strip()
            continue
        match = _WEIGHT_SUFFIX.search(text)
        if match and match.start() > 0 and not _is_escaped(text, match.start()):
            text = text[: match.start()].strip()
            continue
        return text


def split_prompt_tags(text: str) -> list[str]:
    """Split a comma-separated prompt into tags, ignoring commas inside brackets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for index, char in enumerate(text):
        escaped = _is_escaped(text, index)
        if char in "([{" and not escaped:
            depth += 1
        elif char in ")]}" and not escaped:
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def last_prompt_fragment(text: str) -> str:
    """The tag being typed at the end of a prompt: ``"1girl, (long ha"`` -> ``"long ha"``."""
    fragment = text.rsplit(",", 1)[-1].lstrip()
    while fragment and fragment[0] in _BRACKETS:
        fragment = fragment[1:].lstrip()
    return fragment
