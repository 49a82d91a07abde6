"""Where a prompt crosses CLIP's 75-token chunk boundaries — an ESTIMATE.

ComfyUI encodes a prompt in chunks of 75 CLIP tokens (77 with the start and
end tokens). It tokenizes word by word (words are split on spaces after the
weight syntax is parsed) and starts a new chunk when a word does not fit,
splitting only words longer than 8 tokens. A tag cut by a chunk boundary
loses context, so the preview marks where the boundaries fall.

CLIP's BPE vocabulary is not shipped with any installed package, so token
counts are estimated: words are pre-tokenized with CLIP's own pattern
(letter runs, single digits, runs of other symbols); a letter run of up to 8
letters counts as 1 token, up to 14 as 2, longer ones 1 per 6 letters
(rounded up); each digit and each symbol counts 1. Weight syntax (unescaped
brackets and ``:1.2``) is not counted, as ComfyUI strips it. Real counts are
usually equal or a little lower (common long words are single tokens).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

CHUNK = 75
MAX_WORD = 8  # ComfyUI splits only words longer than this across chunks
METHOD = ("estimate: CLIP pre-tokenizer pattern; letter runs of <=8 letters = 1 token, <=14 = 2, "
          "else ceil(len/6); each digit and symbol = 1; weight syntax not counted; "
          "ComfyUI word-level 75-token chunking")
_WEIGHT = re.compile(r":-?\d*\.?\d+(?=,?$)")
_PIECES = re.compile(r"[^\W\d_]+|\d|[^\s\w]|_", re.UNICODE)


def _clean(word: str) -> str:
    """A word as CLIP sees it: weight brackets and ``:1.2`` gone, escapes resolved."""
    out = []
    i = 0
    while i < len(word):
        ch = word[i]
        if ch == "\\" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 2
            continue
        if ch not in "()":
            out.append(ch)
        i += 1
    return _WEIGHT.sub("", "".join(out)) if ":" in word else "".join(out)


def estimate_word_tokens(word: str) -> int:
    count = 0
    for piece in _PIECES.findall(_clean(word)):
        if piece[0].isalpha():
            n = len(piece)
            count += 1 if n <= 8 else 2 if n <= 14 else math.ceil(n / 6)
        else:
            count += 1
    return count


def token_report(tags: Sequence[str]) -> dict:
    """Chunk boundaries of the prompt ``", ".join(tags)``.

    Returns ``{"estimate": True, "method", "chunk_size": 75, "total",
    "chunks", "per_tag": [tokens of each tag, with its comma],
    "boundaries": [{"tag_index", "offset"}]}`` where each boundary is the tag
    (and character offset in the prompt string) at which a new chunk starts."""
    text = ", ".join(tags)
    starts = []
    pos = 0
    for tag in tags:
        starts.append(pos)
        pos += len(tag) + 2
    per_tag = [0] * len(tags)
    boundaries: list[dict] = []
    used = 0
    total = 0
    tag_index = 0
    for match in re.finditer(r"\S+", text):
        while tag_index + 1 < len(starts) and starts[tag_index + 1] <= match.start():
            tag_index += 1
        n = estimate_word_tokens(match.group())
        if n == 0:
            continue
        total += n
        if tags:
            per_tag[tag_index] += n
        while n > 0:
            if used + n <= CHUNK:
                used += n
                n = 0
            elif n > MAX_WORD and used < CHUNK:
                n -= CHUNK - used
                used = CHUNK
            else:
                boundaries.append({"tag_index": tag_index, "offset": match.start()})
                used = 0
    return {"estimate": True, "method": METHOD, "chunk_size": CHUNK, "total": total,
            "chunks": len(boundaries) + 1 if total else 0, "per_tag": per_tag, "boundaries": boundaries}
