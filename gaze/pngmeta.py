"""PNG text chunks: add GAZE's recipe to a PNG without re-encoding it.

ComfyUI's own `prompt`/`workflow` chunks are kept as they are; GAZE adds a
`gaze` chunk (its recipe as JSON) and an A1111-style `parameters` chunk that
image browsers and Civitai read.
"""
from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class NotPNG(ValueError):
    pass


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _itxt(key: str, text: str) -> bytes:
    # keyword, NUL, compression flag 0, method 0, language tag NUL, translated keyword NUL, text
    payload = key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return _chunk(b"iTXt", payload)


def chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of every chunk; raises NotPNG for anything else."""
    if not data.startswith(PNG_SIGNATURE):
        raise NotPNG("not a PNG file")
    out, pos = [], len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise NotPNG("truncated PNG chunk")
        out.append((kind, pos, end))
        pos = end
        if kind == b"IEND":
            break
    if not out or out[-1][0] != b"IEND":
        raise NotPNG("PNG has no IEND chunk")
    return out


def add_text(data: bytes, entries: dict[str, str]) -> bytes:
    """Insert iTXt chunks before IEND, replacing GAZE's own keys if present."""
    parts = chunks(data)
    keys = {k.encode("latin-1") for k in entries}
    body = bytearray(data[:len(PNG_SIGNATURE)])
    for kind, start, end in parts:
        if kind == b"IEND":
            for key, text in entries.items():
                body += _itxt(key, text)
        elif kind in (b"iTXt", b"tEXt") and data[start + 8:end - 4].split(b"\x00", 1)[0] in keys:
            continue
        body += data[start:end]
    return bytes(body)


def read_text(data: bytes) -> dict[str, str]:
    """Every tEXt/iTXt (uncompressed) chunk as key → text."""
    out: dict[str, str] = {}
    for kind, start, end in chunks(data):
        payload = data[start + 8:end - 4]
        if kind == b"tEXt":
            key, _, text = payload.partition(b"\x00")
            out[key.decode("latin-1")] = text.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = payload.partition(b"\x00")
            flag = rest[0:1]
            rest = rest[2:]
            _lang, _, rest = rest.partition(b"\x00")
            _tkey, _, text = rest.partition(b"\x00")
            if flag == b"\x01":
                text = zlib.decompress(text)
            out[key.decode("latin-1")] = text.decode("utf-8")
    return out


def a1111_parameters(recipe: dict) -> str:
    """The `parameters` text A1111 writes: prompt, negative, then settings."""
    prompts = recipe.get("prompts") or {}
    positive = prompts.get("positive", "")
    loras = recipe.get("loras") or []
    lora_tags = " ".join(f"<lora:{_lora_stem(lora.get('lora_name', ''))}:{lora.get('strength', 1)}>"
                         for lora in loras)
    if lora_tags:
        positive = f"{positive}, {lora_tags}" if positive else lora_tags
    ckpt = recipe.get("checkpoint") or {}
    settings = [
        f"Steps: {ckpt.get('steps', '')}", f"Sampler: {ckpt.get('sampler_name', '')}",
        f"Schedule type: {ckpt.get('scheduler', '')}", f"CFG scale: {ckpt.get('cfg', '')}",
        f"Seed: {recipe.get('seed', '')}", f"Size: {recipe.get('width', '')}x{recipe.get('height', '')}",
        f"Model: {_lora_stem(ckpt.get('checkpoint_path', ''))}",
    ]
    return f"{positive}\nNegative prompt: {prompts.get('negative', '')}\n" + ", ".join(settings)


def _lora_stem(name: str) -> str:
    stem = name.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if stem.endswith((".safetensors", ".ckpt", ".pt")) else stem
