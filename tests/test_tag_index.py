"""The in-memory tag index: loading, prefix search, suggestions and validation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaze.tags.index import SAMPLE_CSV, TagIndex, load_tag_index, parse_category
from gaze.tags.normalize import last_prompt_fragment, split_prompt_tags, strip_weight, tag_key

CSV_TEXT = """name,type,post_count,aliases
long_hair,0,4400000,"longhair,long_hairs"
long_sleeves,0,1600000,""
looking_at_viewer,0,3600000,"eye_contact"
lolita_fashion,0,60000,"gothic_lolita_fashion"
hatsune_miku,4,150000,"miku,miku_hatsune"
hakurei_reimu,4,92000,"reimu"
saber_(fate),4,30000,"saber_(fate/stay_night)"
lowres,5,1100000,"low_res"
some_artist,1,2000,"artist_alias"
touhou,3,880000,"touhou_project"
smile,0,3500000,"smiling"
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> TagIndex:
    path = tmp_path_factory.mktemp("tags") / "tags.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    return TagIndex.from_csv(path)


def names(hits: list[dict]) -> list[str]:
    return [hit["name"] for hit in hits]


def test_header_row_is_tolerated(index: TagIndex) -> None:
    assert len(index) == 11
    assert index.skipped_rows == 0
    assert index.resolve("name") is None


def test_loads_without_header_and_skips_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a_tag,0,10,""\nbroken,x,y\n\nb_tag,4,20\n', encoding="utf-8")
    loaded = TagIndex.from_csv(path)
    assert len(loaded) == 2 and loaded.skipped_rows == 1
    assert loaded.lookup("b tag") == {"name": "b_tag", "category": "character", "post_count": 20}


def test_search_is_prefix_on_names_and_aliases_ranked_by_post_count(index: TagIndex) -> None:
    hits = index.search_tags("lo")
    assert names(hits) == ["long_hair", "looking_at_viewer", "long_sleeves", "lowres", "lolita_fashion"]
    assert hits[0] == {"name": "long_hair", "category": "general", "post_count": 4400000}
    # "miku" is an alias of hatsune_miku; "eye" only an alias prefix of looking_at_viewer
    assert names(index.search_tags("miku")) == ["hatsune_miku"]
    assert names(index.search_tags("eye_c")) == ["looking_at_viewer"]
    # a tag matched by its name and by an alias is listed once
    assert names(index.search_tags("long_h")) == ["long_hair"]


def test_search_limit(index: TagIndex) -> None:
    assert names(index.search_tags("lo", limit=2)) == ["long_hair", "looking_at_viewer"]
    assert index.search_tags("lo", limit=0) == []


def test_spaces_case_and_whitespace_are_ignored(index: TagIndex) -> None:
    assert names(index.search_tags("  Long Ha ")) == ["long_hair"]
    assert names(index.search_tags("LOOKING AT")) == ["looking_at_viewer"]


@pytest.mark.parametrize("category", ["character", 4, "4", " Character "])
def test_category_filter_by_name_or_number(index: TagIndex, category: str | int) -> None:
    assert names(index.search_tags("h", category=category)) == ["hatsune_miku", "hakurei_reimu"]


def test_category_filter_other_categories(index: TagIndex) -> None:
    assert names(index.search_tags("", category="meta")) == ["lowres"]
    assert names(index.search_tags("", category="artist")) == ["some_artist"]
    assert names(index.search_tags("t", category="copyright")) == ["touhou"]
    assert names(index.search_tags("lo", category="general")) == [
        "long_hair", "looking_at_viewer", "long_sleeves", "lolita_fashion"]


def test_unknown_category_raises(index: TagIndex) -> None:
    with pytest.raises(ValueError, match="unknown tag category"):
        index.search_tags("a", category="weapons")
    with pytest.raises(ValueError):
        parse_category(2)
    assert parse_category(None) is None and parse_category("all") is None


def test_suggest_completes_the_last_prompt_fragment(index: TagIndex) -> None:
    assert names(index.suggest_tags("smile, (long h")) == ["long_hair"]
    assert names(index.suggest_tags("lo", limit=3)) == ["long_hair", "looking_at_viewer", "long_sleeves"]
    assert names(index.suggest_tags("re", category="character")) == ["hakurei_reimu"]
    assert index.suggest_tags("smile, ") == []


def test_validate_returns_canonical_names_for_aliases(index: TagIndex) -> None:
    result = index.validate_tags(["miku", "long hair", "smiling", "not_a_tag", "Reimu"])
    assert result == {"valid": ["hatsune_miku", "long_hair", "smile", "hakurei_reimu"], "invalid": ["not_a_tag"]}


def test_validate_weights_and_escapes(index: TagIndex) -> None:
    result = index.validate_tags([
        "(long hair:1.2)", "((smile))", "[lowres]", "{touhou}", r"saber \(fate\)",
        r"(saber \(fate/stay night\):0.8)", "(miku:.5)", "(made up:1.1)",
    ])
    assert result["valid"] == ["long_hair", "smile", "lowres", "touhou", "saber_(fate)", "hatsune_miku"]
    assert result["invalid"] == ["(made up:1.1)"]


def test_validate_dedupes_and_accepts_a_prompt_string(index: TagIndex) -> None:
    result = index.validate_tags("long_hair, long hair, (smile:1.1), nope, nope")
    assert result == {"valid": ["long_hair", "smile"], "invalid": ["nope"]}
    assert index.validate_tags([]) == {"valid": [], "invalid": []}


def test_canonical_name_wins_over_alias(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('cat,0,10,"dog"\ndog,0,5,""\n', encoding="utf-8")
    assert TagIndex.from_csv(path).resolve("dog") == "dog"


def test_normalize_helpers() -> None:
    assert tag_key("  Long Hair ") == "long_hair"
    assert tag_key(r"saber \(fate\)") == "saber_(fate)"
    assert strip_weight("((long hair:1.2))") == "long hair"
    assert strip_weight("saber_(fate)") == "saber_(fate)"
    assert strip_weight("(a) (b)") == "(a) (b)"
    assert strip_weight(":3") == ":3"
    assert split_prompt_tags("a, (b, c:1.2), d\\, e") == ["a", "(b, c:1.2)", "d\\", "e"]
    assert last_prompt_fragment("1girl, ((long ha") == "long ha"


@given(st.text(max_size=40))
def test_lookups_never_crash(text: str) -> None:
    index = _SAMPLE
    index.search_tags(text, limit=5)
    index.suggest_tags(text, limit=5)
    result = index.validate_tags([text])
    assert len(result["valid"]) + len(result["invalid"]) <= 1


_SAMPLE = load_tag_index(SAMPLE_CSV)


def test_bundled_sample() -> None:
    assert 90 <= len(_SAMPLE) <= 150
    assert names(_SAMPLE.search_tags("", limit=2)) == ["1girl", "highres"]
    assert _SAMPLE.validate_tags(["school uniform", "masterpiece", "1girls"])["valid"] == [
        "school_uniform", "masterpiece", "1girl"]


def test_load_prefers_argument_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.csv"
    path.write_text("only_tag,0,1\n", encoding="utf-8")
    monkeypatch.setenv("GAZE_TAG_CSV", str(path))
    assert len(load_tag_index()) == 1
    assert len(load_tag_index(SAMPLE_CSV)) == len(_SAMPLE)


def test_200k_rows_load_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        for number in range(200_000):
            aliases = f'"alias_{number}_a,alias_{number}_b"' if number % 3 == 0 else '""'
            handle.write(f"tag_{number:06d}_x,{(0, 1, 3, 4, 5)[number % 5]},{number * 7 % 100000},{aliases}\n")
    started = time.perf_counter()
    big = TagIndex.from_csv(path)
    elapsed = time.perf_counter() - started
    assert len(big) == 200_000
    assert elapsed < 10, f"200k rows took {elapsed:.2f}s"
    started = time.perf_counter()
    for prefix in ("tag_1", "tag_00", "alias_5", "tag_19999"):
        big.search_tags(prefix, limit=20)
    assert time.perf_counter() - started < 2
    assert big.validate_tags(["alias 3 b"]) == {"valid": ["tag_000003_x"], "invalid": []}


def _brute_force(index: TagIndex, prefix: str, limit: int, category: int | None) -> list[str]:
    matching = []
    for tag_id, name in enumerate(index.names):
        keys = [tag_key(name)] + [key for key, owner in index._alias_owner.items() if owner == tag_id]
        if any(key.startswith(prefix) for key in keys) and category in (None, index.categories[tag_id]):
            matching.append(tag_id)
    matching.sort(key=lambda tag_id: (-index.post_counts[tag_id], index.names[tag_id]))
    return [index.names[tag_id] for tag_id in matching[:limit]]


@given(st.text(alphabet="abcehilmorstu_ 1", max_size=4), st.integers(1, 30),
       st.sampled_from([None, 0, 3, 4, 5]))
def test_broad_prefix_scan_agrees_with_brute_force(prefix: str, limit: int, category: int | None) -> None:
    key = tag_key(prefix)
    expected = _brute_force(_SAMPLE, key, limit, category)
    assert [_SAMPLE.names[i] for i in _SAMPLE._scan_popular(key, limit, category)] == expected
    assert names(_SAMPLE.search_tags(prefix, limit=limit, category=category)) == expected
