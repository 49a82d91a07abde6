"""Danbooru-tag text: split, join, compare, cross de-duplicate, with provenance.

A prompt is a comma-separated list of tags. Commas inside brackets belong to
the tag (`(a, b:1.2)` is one weighted group), backslash escapes are literal
(`yuna \\(ff10\\)`), and a newline separates tags like a comma. Every tag
comes out trimmed and whitespace-normalised; empty tags never survive.

`Tag` pairs a tag's text with where it came from (its *source*), so a preview
can explain every tag of a composed prompt. The functions on plain strings
(`split_tags`, `join_tags`, `cross_dedup`) are thin wrappers over the tagged
ones, so both always agree.

These are re-exported by `gaze.prompts`; import them from there.
"""
from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_PAIRS = {")": "(", "]": "[", "}": "{"}
_OPENERS = set(_PAIRS.values())
_SEPARATORS = {",", "\n", "\r"}


@dataclass(frozen=True)
class Tag:
    """One tag and its provenance, e.g. ``{"kind": "asset", "category":
    "characters", "slug": "mira_vance", "field": "identity::hair"}``."""

    text: str
    source: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return tag_key(self.text)


def tag_key(text: str) -> str:
    """What two tags are compared by: trimmed, whitespace-normalised text.
    Case and weights count: ``(tag:1.2)`` and ``tag`` are different tags."""
    return " ".join(str(text).split())


def _matched_brackets(text: str) -> set[int]:
    """Positions of brackets that have a partner (escaped ones excluded).
    Unmatched brackets are plain characters: they never glue tags together."""
    stack: list[tuple[str, int]] = []
    matched: set[int] = set()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch in _OPENERS:
            stack.append((ch, i))
        elif ch in _PAIRS and stack and stack[-1][0] == _PAIRS[ch]:
            matched.update((stack.pop()[1], i))
        i += 1
    return matched


def split_tags(text: Any) -> list[str]:
    """Split prompt text into tags, in order. Accepts a string, None, or a
    (nested) list of strings. Never returns an empty tag."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        return [tag for item in text for tag in split_tags(item)]
    text = str(text)
    matched = _matched_brackets(text)
    tags: list[str] = []
    buf: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i:i + 2])
            i += 2
            continue
        if i in matched:
            depth += 1 if ch in _OPENERS else -1
        if ch in _SEPARATORS and depth == 0:
            tags.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    tags.append("".join(buf))
    return [key for key in (_clean_tag(t) for t in tags) if key]


def _clean_tag(text: str) -> str:
    """Normalise whitespace and drop a dangling trailing backslash, which
    would otherwise escape the separator once the tag is joined again."""
    text = tag_key(text)
    while (len(text) - len(text.rstrip("\\"))) % 2:
        text = text[:-1].rstrip()
    return text


def join_tags(tags: Iterable[Any]) -> str:
    """Join tags (strings, `Tag`s or prompt fragments) with ", ", dropping
    empty pieces, so no prompt ever gets an empty tag or a doubled comma."""
    out = []
    for tag in tags:
        text = tag.text if isinstance(tag, Tag) else tag
        if text is None:
            continue
        out.extend(split_tags(text))
    return ", ".join(out)


def tagged(text: Any, source: Mapping[str, Any]) -> list[Tag]:
    """Split `text` into `Tag`s that all carry `source`."""
    return [Tag(t, source) for t in split_tags(text)]


def attribute(text: str, known: Iterable[Tag], default: Mapping[str, Any]) -> list[Tag]:
    """Split `text` into tags and give each the source of the first unused
    known tag with the same key, else `default`. Used when a caller edited a
    prompt string after it was composed: provenance survives the edit."""
    pool: dict[str, deque[Tag]] = defaultdict(deque)
    for tag in known:
        pool[tag.key].append(tag)
    out = []
    for text_tag in split_tags(text):
        queue = pool.get(tag_key(text_tag))
        out.append(Tag(text_tag, queue.popleft().source) if queue else Tag(text_tag, default))
    return out


@dataclass
class Dedup:
    """The result of cross de-duplication, with what each side lost."""

    positive: list[Tag]
    negative: list[Tag]
    removed_positive: list[Tag]
    removed_negative: list[Tag]


def cross_dedup_tags(positive: Iterable[Tag], negative: Iterable[Tag]) -> Dedup:
    """SPEC §3: for every tag on both sides, remove the first occurrence from
    each side, repeatedly, until it stands on one side only. Equal counts
    cancel; the excess stays (in its original, later positions). Duplicates
    within one side are untouched when the other side lacks the tag."""
    positive, negative = list(positive), list(negative)
    pos_count = Counter(t.key for t in positive)
    neg_count = Counter(t.key for t in negative)
    cancel = {k: min(n, neg_count[k]) for k, n in pos_count.items() if neg_count.get(k)}

    def strip(tags: list[Tag]) -> tuple[list[Tag], list[Tag]]:
        left = dict(cancel)
        kept, removed = [], []
        for tag in tags:
            if left.get(tag.key, 0) > 0:
                left[tag.key] -= 1
                removed.append(tag)
            else:
                kept.append(tag)
        return kept, removed

    pos_kept, pos_removed = strip(positive)
    neg_kept, neg_removed = strip(negative)
    return Dedup(pos_kept, neg_kept, pos_removed, neg_removed)


def cross_dedup(positive: str, negative: str) -> tuple[str, str]:
    """`cross_dedup_tags` on prompt strings: returns (positive, negative)."""
    result = cross_dedup_tags(tagged(positive, {}), tagged(negative, {}))
    return join_tags(result.positive), join_tags(result.negative)
