"""In-memory Danbooru tag index loaded from an a1111 tag-autocomplete CSV.

CSV rows are ``name,type,postCount,"alias1,alias2"`` with no header (a header
row is tolerated).  Types: 0 general, 1 artist, 3 copyright, 4 character,
5 meta.  Prefix search runs on one sorted array of name and alias keys with
:mod:`bisect`; exact lookups go through a dict.  The index is immutable once
built, so one instance can be shared by every thread.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from gaze.tags.normalize import last_prompt_fragment, split_prompt_tags, strip_weight, tag_key

logger = logging.getLogger(__name__)

CATEGORY_NAMES: dict[int, str] = {0: "general", 1: "artist", 3: "copyright", 4: "character", 5: "meta"}
CATEGORY_NUMBERS: dict[str, int] = {name: number for number, name in CATEGORY_NAMES.items()}
SAMPLE_CSV = Path(__file__).with_name("sample_tags.csv")
MAX_LIMIT = 500
_PREFIX_END = "\U0010ffff"
_SCAN_THRESHOLD = 2000  # prefix ranges wider than this are answered by walking tags most-used first


class TagHit(TypedDict):
    """One search or suggestion result."""

    name: str
    category: str
    post_count: int


class ValidationResult(TypedDict):
    """Result of :meth:`TagIndex.validate_tags`."""

    valid: list[str]
    invalid: list[str]


def category_name(number: int) -> str:
    """Category name of a Danbooru tag type number (unknown numbers read ``"other"``)."""
    return CATEGORY_NAMES.get(number, "other")


def parse_category(category: str | int | None) -> int | None:
    """A category filter as a type number: accepts ``"character"``, ``4``, ``"4"`` or ``None``.

    Raises:
        ValueError: for an unknown category.
    """
    if category is None:
        return None
    if isinstance(category, bool):
        raise ValueError(f"unknown tag category {category!r}")
    if isinstance(category, int):
        if category in CATEGORY_NAMES:
            return category
        raise ValueError(f"unknown tag category {category!r}")
    text = str(category).strip().lower()
    if text in ("", "all", "any"):
        return None
    if text in CATEGORY_NUMBERS:
        return CATEGORY_NUMBERS[text]
    if text.isdigit() and int(text) in CATEGORY_NAMES:
        return int(text)
    choices = ", ".join(CATEGORY_NUMBERS)
    raise ValueError(f"unknown tag category {category!r} (use one of: {choices})")


class TagIndex:
    """Tags with their categories, post counts and aliases; built once, then read-only."""

    def __init__(self, rows: Iterable[Sequence[str]]) -> None:
        """Build the index from CSV-like rows ``(name, type, post_count[, aliases])``.

        Malformed rows are skipped (counted in :attr:`skipped_rows`); a first row
        whose type or count is not a number is taken as a header.  A repeated
        name keeps its first row and gains the repeat's aliases.
        """
        self.names: list[str] = []
        self.categories: list[int] = []
        self.post_counts: list[int] = []
        self.skipped_rows = 0
        name_keys: list[str] = []
        exact: dict[str, int] = {}
        alias_rows: list[tuple[int, str]] = []
        first = True
        for row in rows:
            parsed = self._parse_row(row, first=first)
            first = False
            if parsed is None:
                continue
            name, category, count, aliases = parsed
            key = tag_key(name)
            tag_id = exact.get(key)
            if tag_id is None:
                tag_id = exact[key] = len(self.names)
                self.names.append(name)
                self.categories.append(category)
                self.post_counts.append(count)
                name_keys.append(key)
            if aliases:
                alias_rows.extend((tag_id, alias) for alias in aliases.split(","))
        counts = self.post_counts
        alias_owner: dict[str, int] = {}
        for tag_id, alias in alias_rows:
            key = tag_key(alias)
            if not key or key in exact:
                continue  # a canonical name always wins over an alias
            owner = alias_owner.get(key)
            if owner is None or counts[tag_id] > counts[owner]:
                alias_owner[key] = tag_id
        self._exact = exact
        self._alias_owner = alias_owner
        self._name_keys = name_keys
        self._alias_keys: dict[int, list[str]] = {}
        for key, tag_id in alias_owner.items():
            self._alias_keys.setdefault(tag_id, []).append(key)
        entries = list(zip(name_keys, range(len(name_keys)))) + list(alias_owner.items())
        entries.sort()
        self._keys = [key for key, _ in entries]
        self._ids = [tag_id for _, tag_id in entries]
        names = self.names
        self._popular = sorted(range(len(names)), key=lambda tag_id: (-counts[tag_id], names[tag_id]))

    def _parse_row(self, row: Sequence[str], *, first: bool) -> tuple[str, int, int, str] | None:
        """``(name, type, count, aliases-text)`` of a CSV row, or ``None`` to skip it."""
        if not row or not row[0].strip():
            return None
        try:
            category = int(row[1]) if len(row) > 1 and row[1].strip() else 0
            count = int(row[2]) if len(row) > 2 and row[2].strip() else 0
        except ValueError:
            try:
                category, count = int(row[1]), int(float(row[2]))  # e.g. "1.2e6" counts
            except (ValueError, IndexError):
                if not first:
                    self.skipped_rows += 1
                    logger.debug("Skipping malformed tag row %r", list(row)[:3])
                return None
        return row[0].strip(), category, count, row[3] if len(row) > 3 else ""

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> TagIndex:
        """Load an a1111 tag-autocomplete CSV file (UTF-8, optional BOM, optional header)."""
        started = time.perf_counter()
        with open(path, encoding="utf-8-sig", newline="") as handle:
            index = cls(csv.reader(handle))
        logger.info(
            "Loaded %d tags (%d aliases) from %s in %.2fs",
            len(index),
            len(index._alias_owner),
            os.fspath(path),
            time.perf_counter() - started,
        )
        if index.skipped_rows:
            logger.warning("Skipped %d malformed rows in %s", index.skipped_rows, os.fspath(path))
        return index

    def __len__(self) -> int:
        return len(self.names)

    @property
    def alias_count(self) -> int:
        """How many aliases resolve to a tag."""
        return len(self._alias_owner)

    def _hit(self, tag_id: int) -> TagHit:
        return {
            "name": self.names[tag_id],
            "category": category_name(self.categories[tag_id]),
            "post_count": self.post_counts[tag_id],
        }

    def _prefix_ids(self, prefix: str, limit: int, category: int | None) -> list[int]:
        """Tag ids whose name or alias key starts with ``prefix``, most-used first."""
        limit = min(int(limit), MAX_LIMIT)
        if limit <= 0:
            return []
        low = bisect.bisect_left(self._keys, prefix)
        high = bisect.bisect_left(self._keys, prefix + _PREFIX_END, lo=low)
        if high - low > _SCAN_THRESHOLD:
            return self._scan_popular(prefix, limit, category)
        candidates = set(self._ids[low:high])
        if category is not None:
            candidates = {tag_id for tag_id in candidates if self.categories[tag_id] == category}
        counts, names = self.post_counts, self.names
        return heapq.nsmallest(limit, candidates, key=lambda tag_id: (-counts[tag_id], names[tag_id]))

    def _scan_popular(self, prefix: str, limit: int, category: int | None) -> list[int]:
        """Broad prefixes: walk all tags most-used first and stop at ``limit`` matches."""
        hits: list[int] = []
        name_keys, alias_keys, categories = self._name_keys, self._alias_keys, self.categories
        for tag_id in self._popular:
            if category is not None and categories[tag_id] != category:
                continue
            if name_keys[tag_id].startswith(prefix) or any(
                key.startswith(prefix) for key in alias_keys.get(tag_id, ())
            ):
                hits.append(tag_id)
                if len(hits) == limit:
                    break
        return hits

    def search_tags(self, query: str, limit: int = 20, category: str | int | None = None) -> list[TagHit]:
        """Tags whose name or an alias starts with ``query``, ranked by post count.

        Raises:
            ValueError: for an unknown category.
        """
        number = parse_category(category)
        key = tag_key(strip_weight(query))
        return [self._hit(tag_id) for tag_id in self._prefix_ids(key, limit, number)]

    def suggest_tags(self, partial: str, limit: int = 10, category: str | int | None = None) -> list[TagHit]:
        """Autocomplete the tag being typed at the end of ``partial`` (text after the last comma).

        Raises:
            ValueError: for an unknown category.
        """
        number = parse_category(category)
        key = tag_key(last_prompt_fragment(partial))
        if not key:
            return []
        return [self._hit(tag_id) for tag_id in self._prefix_ids(key, limit, number)]

    def resolve(self, tag: str) -> str | None:
        """The canonical name of ``tag`` (a name, alias or weighted prompt tag), or ``None``."""
        tag_id = self._lookup(tag)
        return None if tag_id is None else self.names[tag_id]

    def lookup(self, tag: str) -> TagHit | None:
        """The search-result record of ``tag`` (resolved like :meth:`resolve`), or ``None``."""
        tag_id = self._lookup(tag)
        return None if tag_id is None else self._hit(tag_id)

    def _lookup(self, tag: str) -> int | None:
        for candidate in (tag, strip_weight(tag)):
            key = tag_key(candidate)
            if not key:
                continue
            tag_id = self._exact.get(key)
            if tag_id is None:
                tag_id = self._alias_owner.get(key)
            if tag_id is not None:
                return tag_id
        return None

    def validate_tags(self, tags: Iterable[str] | str) -> ValidationResult:
        """Split ``tags`` into canonical valid names and the invalid inputs (both deduplicated).

        An alias is valid and reported as its canonical tag; a plain string is
        read as a comma-separated prompt.
        """
        if isinstance(tags, str):
            tags = split_prompt_tags(tags)
        valid: list[str] = []
        invalid: list[str] = []
        for tag in tags:
            text = str(tag).strip()
            if not text:
                continue
            canonical = self.resolve(text)
            if canonical is None:
                if text not in invalid:
                    invalid.append(text)
            elif canonical not in valid:
                valid.append(canonical)
        return {"valid": valid, "invalid": invalid}


def load_tag_index(path: str | os.PathLike[str] | None = None) -> TagIndex:
    """Load the index from ``path``, else from env ``GAZE_TAG_CSV``, else the bundled sample."""
    chosen = path or os.environ.get("GAZE_TAG_CSV") or SAMPLE_CSV
    return TagIndex.from_csv(chosen)
