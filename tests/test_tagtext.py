"""Tag splitting/joining and cross de-duplication (SPEC §3)."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze.prompts import Tag, cross_dedup, cross_dedup_tags, join_tags, split_tags, tag_key


@pytest.mark.parametrize("text, tags", [
    ("a, b, c", ["a", "b", "c"]),
    ("  a ,, b ,\n c , ", ["a", "b", "c"]),
    (",,, ,", []),
    ("", []),
    (None, []),
    ("long   hair,\tblue\u00a0 eyes", ["long hair", "blue eyes"]),
    ("(tag:1.2), b", ["(tag:1.2)", "b"]),
    ("yuna \\(ff10\\), solo", ["yuna \\(ff10\\)", "solo"]),
    ("a \\(b, c\\)", ["a \\(b", "c\\)"]),                 # escaped brackets do not group
    ("((a, b):1.2), c", ["((a, b):1.2)", "c"]),           # nested groups stay one tag
    ("(a, (b, c:0.8):1.1), d", ["(a, (b, c:0.8):1.1)", "d"]),
    ("[a, b], {c|d, e}", ["[a, b]", "{c|d, e}"]),
    ("(unclosed, tag", ["(unclosed", "tag"]),              # unmatched brackets never glue tags
    ("stray), close", ["stray)", "close"]),
    ("masterpiece\nbest quality\r\nabsurdres", ["masterpiece", "best quality", "absurdres"]),
    (["a, b", "", ["c", None]], ["a", "b", "c"]),
    ("a\\, b", ["a\\, b"]),                               # an escaped comma is text
    ("x \\ \\", ["x"]),                                     # dangling backslashes go
])
def test_split_tags(text, tags):
    assert split_tags(text) == tags


def test_join_tags_never_makes_empty_tags_or_doubled_commas():
    assert join_tags(["a", "", " , ", "b,, c", None, Tag("d", {})]) == "a, b, c, d"
    assert join_tags([]) == ""
    assert join_tags(["(x, y:1.2)", "yuna \\(ff10\\)"]) == "(x, y:1.2), yuna \\(ff10\\)"


def test_tag_key_is_trimmed_whitespace_normalised_text():
    assert tag_key("  long \n hair ") == "long hair"
    assert tag_key("(tag:1.2)") != tag_key("tag")


@pytest.mark.parametrize("pos, neg, want_pos, want_neg", [
    ("a, b", "b, c", "a", "c"),                           # equal counts cancel
    ("b, b, b", "b, b", "b", ""),                         # excess stays in the positive
    ("b", "x, b, b", "", "x, b"),                         # … or in the negative
    ("bad anatomy, bad anatomy", "bad anatomy", "bad anatomy", ""),  # the override users rely on
    ("(b:1.2), b", "b", "(b:1.2)", ""),                   # weights are distinct tags
    ("(b:1.2)", "b", "(b:1.2)", "b"),
    ("a, a, c", "d, d", "a, a, c", "d, d"),               # in-side duplicates untouched
    ("long  hair", " long hair ", "", ""),                # whitespace-normalised comparison
    ("Smile", "smile", "Smile", "smile"),                 # text is compared as written
    ("x, a, x", "x", "a, x", ""),                         # the first occurrence goes
    ("", "a, b", "", "a, b"),
])
def test_cross_dedup(pos, neg, want_pos, want_neg):
    assert cross_dedup(pos, neg) == (want_pos, want_neg)


def test_cross_dedup_tags_reports_what_each_side_lost():
    pos = [Tag("a", {"n": 1}), Tag("b", {"n": 2}), Tag("b", {"n": 3})]
    neg = [Tag("b", {"n": 4}), Tag("c", {"n": 5})]
    result = cross_dedup_tags(pos, neg)
    assert [t.source["n"] for t in result.positive] == [1, 3]
    assert [t.source["n"] for t in result.removed_positive] == [2]
    assert [t.source["n"] for t in result.negative] == [5]
    assert [t.source["n"] for t in result.removed_negative] == [4]


# ---------------------------------------------------------------- properties

_WORDS = st.sampled_from(["a", "b", "long hair", "(a:1.2)", "(a)", "smile", "yuna \\(ff10\\)"])
_SPACED = st.tuples(_WORDS, st.sampled_from(["", " ", "  ", "\t"]), st.sampled_from(["", " ", "  "])).map(
    lambda t: t[1] + t[0].replace(" ", t[2] or " ") + t[1])
_PROMPT = st.lists(_SPACED, max_size=12).map(", ".join)


@settings(max_examples=200, deadline=None)
@given(_PROMPT, _PROMPT)
def test_cross_dedup_properties(positive, negative):
    pos_before = Counter(split_tags(positive))
    neg_before = Counter(split_tags(negative))
    pos, neg = cross_dedup(positive, negative)
    pos_after, neg_after = Counter(split_tags(pos)), Counter(split_tags(neg))
    # no tag stands on both sides afterwards
    assert not set(pos_after) & set(neg_after)
    # the per-tag difference between the sides is unchanged
    for key in set(pos_before) | set(neg_before):
        assert pos_after[key] - neg_after[key] == pos_before[key] - neg_before[key]
    # a tag the other side lacks is untouched (duplicates included)
    for key, n in pos_before.items():
        if key not in neg_before:
            assert pos_after[key] == n
    # what is kept keeps its order (a subsequence of the input)
    it = iter(split_tags(positive))
    assert all(tag in it for tag in split_tags(pos))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab(),:\\ \n1.", max_size=12), max_size=6))
def test_split_join_round_trip(pieces):
    tags = split_tags(pieces)
    assert all(t and t == tag_key(t) for t in tags)
    joined = join_tags(pieces)
    # top-level separators are exactly ", " between non-empty tags
    assert joined == ", ".join(tags)
    for piece in pieces:  # one prompt string survives split → join → split unchanged
        assert split_tags(join_tags(split_tags(piece))) == split_tags(piece)
