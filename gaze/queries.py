"""Gallery queries: search, filter, sort and paginate in SQL.

One query path serves every category (they share the `assets` table) and the
checkpoints. Only the rows of the requested page are loaded, without their
JSON blob, so a gallery costs the same with fifty entries or fifty thousand.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased, defer

from models import MODELS, Asset, Checkpoint, db

PER_PAGE_DEFAULT = 48
PER_PAGE_CHOICES = (24, 48, 96, 192)
PER_PAGE_MAX = 500
SORTS = {"name": "Name", "newest": "Newest", "generated": "Recently generated"}
COVER_FILTERS = {"": "Any cover", "yes": "Has cover", "no": "No cover"}
LORA_FILTERS = {"": "Any LoRA", "yes": "Has LoRA", "no": "No LoRA"}
LOOK_FILTERS = {"": "Any looks", "0": "No looks", "1": "1+ looks", "2": "2+ looks", "3": "3+ looks"}


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class GalleryParams:
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE_DEFAULT
    cover: str = ""        # "" | "yes" | "no"
    lora: str = ""         # "" | "yes" | "no"
    looks: str = ""        # "" | "0" (none) | "<n>" (at least n); characters only
    sort: str = "name"     # name | newest | generated

    @classmethod
    def from_args(cls, args: Mapping, per_page_default: int = PER_PAGE_DEFAULT) -> "GalleryParams":
        """Read the gallery's query string, replacing anything unknown by its default."""
        per_page = min(max(_int(args.get("per_page"), per_page_default), 1), PER_PAGE_MAX)
        looks = str(args.get("looks") or "")
        return cls(
            q=str(args.get("q") or "").strip()[:200],
            page=max(_int(args.get("page"), 1), 1),
            per_page=per_page,
            cover=args.get("cover") if args.get("cover") in COVER_FILTERS else "",
            lora=args.get("lora") if args.get("lora") in LORA_FILTERS else "",
            looks=looks if looks.isdigit() and int(looks) <= 99 else "",
            sort=args.get("sort") if args.get("sort") in SORTS else "name",
        )

    def args(self, **changes) -> dict:
        """The query-string arguments of these params (defaults left out), with changes."""
        merged = replace(self, **changes)
        out = {}
        for key, default in (("q", ""), ("cover", ""), ("lora", ""), ("looks", ""), ("sort", "name"),
                             ("per_page", PER_PAGE_DEFAULT), ("page", 1)):
            value = getattr(merged, key)
            if value != default:
                out[key] = value
        return out

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.cover or self.lora or self.looks)


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int
    extra: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)

    def iter_pages(self, edge: int = 1, around: int = 2):
        """Page numbers to show, None standing for a gap: 1 … 4 5 [6] 7 8 … 20."""
        last = 0
        for n in range(1, self.pages + 1):
            if n <= edge or n > self.pages - edge or abs(n - self.page) <= around:
                if last and n - last > 1:
                    yield None
                yield n
                last = n


def _like_terms(q: str) -> list[str]:
    terms = []
    for word in q.lower().split():
        word = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        terms.append(f"%{word}%")
    return terms


def _clamp(page: int, total: int, per_page: int) -> int:
    return min(page, max(1, math.ceil(total / per_page)))


def gallery_page(cat_key: str, params: GalleryParams) -> Page:
    """One page of a category's gallery. Search matches every word of `q`
    against the id, name and tags; filters and sorting run in SQL."""
    model = MODELS[cat_key]
    conditions = [Asset.category == cat_key]
    for term in _like_terms(params.q):
        conditions.append(Asset.search_text.like(term, escape="\\"))
    if params.cover == "yes":
        conditions.append(Asset.image_path.is_not(None))
    elif params.cover == "no":
        conditions.append(Asset.image_path.is_(None))
    if params.lora:
        conditions.append(Asset.has_lora.is_(params.lora == "yes"))
    if params.looks and cat_key == "characters":
        look = aliased(Asset)
        count = (select(func.count(look.id))
                 .where(look.category == "looks", look.parent_id == Asset.asset_id)
                 .correlate(Asset).scalar_subquery())
        wanted = int(params.looks)
        conditions.append(count == 0 if wanted == 0 else count >= wanted)
    where = and_(*conditions)
    total = db.session.execute(select(func.count(Asset.id)).where(where)).scalar_one()
    page = _clamp(params.page, total, params.per_page)
    if params.sort == "newest":
        order = (Asset.created_at.desc(), Asset.id.desc())
    elif params.sort == "generated":
        order = (Asset.last_generated_at.is_(None), Asset.last_generated_at.desc(), Asset.name)
    else:
        order = (Asset.name, Asset.id)
    items = (model.query.options(defer(Asset.data)).filter(where).order_by(*order)
             .offset((page - 1) * params.per_page).limit(params.per_page).all())
    extra = {}
    if cat_key == "characters":
        extra["look_counts"] = look_counts([c.asset_id for c in items])
    return Page(items, total, page, params.per_page, extra)


def look_counts(character_ids: list[str]) -> dict[str, int]:
    """character_id → number of looks, for the given characters."""
    if not character_ids:
        return {}
    rows = db.session.execute(
        select(Asset.parent_id, func.count(Asset.id))
        .where(Asset.category == "looks", Asset.parent_id.in_(character_ids))
        .group_by(Asset.parent_id)).all()
    return dict(rows)


def checkpoint_page(params: GalleryParams) -> Page:
    """One page of the checkpoint gallery (models on disk and JSON entries)."""
    conditions = []
    for term in _like_terms(params.q):
        conditions.append(or_(func.lower(Checkpoint.name).like(term, escape="\\"),
                              func.lower(Checkpoint.checkpoint_path).like(term, escape="\\")))
    if params.cover == "yes":
        conditions.append(Checkpoint.image_path.is_not(None))
    elif params.cover == "no":
        conditions.append(Checkpoint.image_path.is_(None))
    where = and_(True, *conditions)
    total = db.session.execute(select(func.count(Checkpoint.id)).where(where)).scalar_one()
    page = _clamp(params.page, total, params.per_page)
    if params.sort == "newest":
        order = (Checkpoint.created_at.desc(), Checkpoint.id.desc())
    elif params.sort == "generated":
        order = (Checkpoint.last_generated_at.is_(None), Checkpoint.last_generated_at.desc(), Checkpoint.name)
    else:
        order = (Checkpoint.name, Checkpoint.id)
    items = (Checkpoint.query.filter(where).order_by(*order)
             .offset((page - 1) * params.per_page).limit(params.per_page).all())
    return Page(items, total, page, params.per_page)


def paginate_list(items: list, page: int, per_page: int) -> Page:
    """A Page over an in-memory list (the generated-image gallery)."""
    total = len(items)
    page = _clamp(max(page, 1), total, per_page)
    start = (page - 1) * per_page
    return Page(items[start:start + per_page], total, page, per_page)
