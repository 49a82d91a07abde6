"""The ComfyUI graph for one request (SPEC §4), and fitting it to a server.

`prepare_workflow` turns the template (`comfy_workflow.json`) plus the
request's assets into an API-format graph and an `info` dict describing it.
Assets are **data dicts** (the JSON of an entry, i.e. an ORM row's ``.data``);
an ORM row is also accepted and read through its ``.data``. Each secondary
slot (outfit, action, style, detailer, scene) takes one asset or a list: the
first item that has a LoRA gets the slot's node, every item's prompt text
reaches the prompt.

`adapt_to_server` removes what the server cannot run (the Impact Pack
detailers); `validate_against_server` lists readable problems before sending
(see `gaze.serverinfo`).
"""
from __future__ import annotations

import copy
import functools
import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .categories import CHECKPOINT_DEFAULTS, NODE19_PRIORITY, REGISTRY
from .config import ROOT
from .prompts import (
    Prompts,
    Tag,
    asset_source,
    build_prompt,
    cross_dedup_tags,
    extras_tags,
    join_tags,
    prompt_tags,
    tagged,
)
from .serverinfo import adapt_to_server, validate_against_server  # re-exported

TEMPLATE_PATH = ROOT / "comfy_workflow.json"
POSITIVE, NEGATIVE, FACE_PROMPT, HAND_PROMPT = "6", "7", "14", "15"
SAMPLER, CHECKPOINT, LATENT, DECODE = "3", "4", "5", "8"
DETAILERS = ("11", "13")
LORA_NODES = ("16", "17", "18", "19")
#: Who may hold each LoRA node, best first (a look replaces the character).
LORA_PRIORITY = ("looks", "characters", "outfits", "actions") + NODE19_PRIORITY
SLOT_CATEGORIES = {"outfit": "outfits", "action": "actions", "style": "styles",
                   "detailer": "detailers", "scene": "scenes"}
SEED_MAX = 2 ** 53 - 1  # exact in JSON/JavaScript numbers


@functools.lru_cache(maxsize=1)
def _template() -> dict:
    with open(TEMPLATE_PATH, encoding="utf-8") as fh:
        return json.load(fh)


def load_template() -> dict:
    """A fresh deep copy of the template graph (read from disk once)."""
    return copy.deepcopy(_template())


def _items(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in values:
        data = v if isinstance(v, Mapping) else getattr(v, "data", None)
        if data:
            out.append(data)
    return out


def _lora_of(data: Mapping[str, Any]) -> tuple[str, float] | None:
    lora = data.get("lora")
    if not isinstance(lora, Mapping):
        return None
    name = lora.get("lora_name")
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        weight = float(lora.get("lora_weight", 1.0))
    except (TypeError, ValueError):
        weight = 1.0
    return name.strip(), weight


def _assign_loras(assets: dict[str, list[Mapping]]) -> tuple[dict[str, dict], list[dict]]:
    """Pick the holder of each LoRA node; report every LoRA left out and why."""
    nodes: dict[str, dict] = {}
    unwired: list[dict] = []
    order = sorted(REGISTRY.values(),
                   key=lambda c: LORA_PRIORITY.index(c.key) if c.key in LORA_PRIORITY else len(LORA_PRIORITY))
    for cat in order:
        for data in assets.get(cat.key, []):
            lora = _lora_of(data)
            if lora is None:
                continue
            who = asset_source(data, cat.key)
            held = nodes.get(cat.lora_node)
            if held is None:
                nodes[cat.lora_node] = {"node": cat.lora_node, "lora_name": lora[0], "strength": lora[1], **who}
            else:
                unwired.append({"lora_name": lora[0], **who,
                                "reason": f"node {cat.lora_node} holds the {held['category'][:-1]} "
                                          f"LoRA of '{held['slug']}'"})
    return nodes, unwired


def _wire_loras(graph: dict, nodes: dict[str, dict]) -> list[dict]:
    """SPEC §4: chain 4 → 16 → 17 → 18 → 19 through the nodes that have a
    LoRA, delete the others, and put every model/clip consumer on the last
    source. Returns the wired chain in node order."""
    chain_ids = {CHECKPOINT, *LORA_NODES}
    previous = CHECKPOINT
    chain = []
    for node_id in LORA_NODES:
        pick = nodes.get(node_id)
        if pick is None:
            graph.pop(node_id, None)
            continue
        graph[node_id]["inputs"].update(model=[previous, 0], clip=[previous, 1], lora_name=pick["lora_name"],
                                        strength_model=pick["strength"], strength_clip=pick["strength"])
        chain.append({"node": node_id, "lora_name": pick["lora_name"], "strength": pick["strength"]})
        previous = node_id
    for node_id, node in graph.items():
        if node_id in chain_ids:
            continue
        for name, value in node.get("inputs", {}).items():
            if _is_link(value) and str(value[0]) in chain_ids and value[1] in (0, 1):
                node["inputs"][name] = [previous, value[1]]
    return chain


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) \
        and isinstance(value[1], int) and not isinstance(value[1], bool)


def new_node_id(graph: Mapping[str, Any]) -> str:
    """The next free numeric node id (deterministic)."""
    return str(max((int(k) for k in graph if str(k).isdigit()), default=0) + 1)


def checkpoint_settings(checkpoint: str | None, checkpoint_data: Mapping[str, Any] | None) -> dict:
    """The checkpoint's settings over the built-in defaults (SPEC §2)."""
    settings = dict(CHECKPOINT_DEFAULTS)
    for key, value in (checkpoint_data or {}).items():
        if key in settings and value not in (None, ""):
            settings[key] = value
    settings["checkpoint_path"] = checkpoint or (checkpoint_data or {}).get("checkpoint_path") or ""
    return settings


def _apply_checkpoint(graph: dict, settings: dict, steps: int | None, cfg: float | None) -> dict:
    """Steps, cfg, sampler, scheduler on 3 (and the detailers), the model on
    4, and a VAELoader feeding the decoder and detailers unless integrated."""
    if settings["checkpoint_path"]:
        graph[CHECKPOINT]["inputs"]["ckpt_name"] = settings["checkpoint_path"]
    applied = {"steps": int(steps if steps is not None else settings["steps"]),
               "cfg": float(cfg if cfg is not None else settings["cfg"]),
               "sampler_name": settings["sampler_name"], "scheduler": settings["scheduler"]}
    for node_id in (SAMPLER, *DETAILERS):
        if node_id in graph:
            graph[node_id]["inputs"].update(applied)
    vae = str(settings.get("vae") or "integrated").strip()
    if vae and vae != "integrated":
        vae_id = new_node_id(graph)
        graph[vae_id] = {"class_type": "VAELoader", "_meta": {"title": "VAE"}, "inputs": {"vae_name": vae}}
        for node in graph.values():
            if _is_link(node["inputs"].get("vae")) and str(node["inputs"]["vae"][0]) == CHECKPOINT:
                node["inputs"]["vae"] = [vae_id, 0]
    return {**applied, "vae": vae or "integrated"}


def prepare_workflow(*, character: Any = None, look: Any = None, outfit: Any = None, action: Any = None,
                     style: Any = None, detailer: Any = None, scene: Any = None, checkpoint: str | None = None,
                     checkpoint_data: Mapping[str, Any] | None = None, prompts: Mapping[str, Any] | None = None,
                     extra_positive: str = "", extra_negative: str = "", width: int = 1024, height: int = 1024,
                     seed: int | None = None, steps: int | None = None, cfg: float | None = None,
                     include_asset_prompts: bool = True) -> tuple[dict, dict]:
    """Build the graph for one request. Returns ``(graph, info)``.

    `prompts` is `build_prompt`'s result for the character (``main`` → node
    6, ``face`` → 14, ``hand`` → 15); when it is None and a character is
    given, it is built here (all fields, or an ORM row's ``default_fields``
    and active outfit). The look's and the secondary assets'
    prompt text is added here (unless `include_asset_prompts` is False), in
    this order: checkpoint base positive, prompts main, look, outfits,
    actions, styles, scenes, detailers, `extra_positive`. Negative: the look's
    negative (prepended), the checkpoint's base negative, `extra_negative`.
    Cross de-duplication of 6 and 7 is the very last step.

    ``info``: ``positive``, ``negative``, ``face``, ``hand`` (final strings),
    ``loras`` (``[{"node", "lora_name", "strength"}]``, wired, in node
    order), ``unwired_loras`` (LoRAs that lost their node, with a reason),
    ``seed``, ``width``, ``height``, ``checkpoint``, ``steps``, ``cfg``,
    ``sampler_name``, ``scheduler``, ``vae``, ``tags`` (per-tag provenance:
    ``{"tag", "side", "source", "removed_by_dedup"}`` in prompt order) and
    ``warnings``."""
    graph = load_template()
    looks = _items(look)
    slots = {"outfit": outfit, "action": action, "style": style, "detailer": detailer, "scene": scene}
    assets = {"characters": _items(character), "looks": looks}
    assets.update({SLOT_CATEGORIES[slot]: _items(value) for slot, value in slots.items()})
    if prompts is None and assets["characters"]:
        prompts = build_prompt(assets["characters"][0], None, getattr(character, "default_fields", None),
                               getattr(character, "active_outfit", None))
    warnings = list(getattr(prompts, "warnings", []) or [])

    settings = checkpoint_settings(checkpoint, checkpoint_data)
    if not settings["checkpoint_path"]:
        warnings.append("No checkpoint selected: node 4 keeps the template's empty name.")
    ckpt_src = {"kind": "checkpoint", "path": settings["checkpoint_path"]}
    extras = extras_tags({k: assets[k] for k in ("looks", *SLOT_CATEGORIES.values())}) \
        if include_asset_prompts else {"main": [], "face": [], "hand": [], "negative": []}
    look_negative = [t for t in extras["negative"] if t.source.get("category") == "looks"]
    other_negative = [t for t in extras["negative"] if t.source.get("category") != "looks"]

    positive = (tagged(settings["base_positive"], {**ckpt_src, "field": "base_positive"})
                + prompt_tags(prompts, "main") + extras["main"]
                + tagged(extra_positive, {"kind": "user", "field": "extra_positive"}))
    template_negative = graph[NEGATIVE]["inputs"].get("text", "")
    negative = (look_negative + tagged(template_negative, {"kind": "template", "node": NEGATIVE})
                + other_negative + tagged(settings["base_negative"], {**ckpt_src, "field": "base_negative"})
                + tagged(extra_negative, {"kind": "user", "field": "extra_negative"}))
    face = prompt_tags(prompts, "face") + extras["face"]
    hand = prompt_tags(prompts, "hand") + extras["hand"]

    nodes, unwired = _assign_loras(assets)
    if looks and assets["characters"] and "16" in nodes and nodes["16"]["category"] == "looks":
        for item in unwired:
            if item["category"] == "characters":
                item["reason"] = f"replaced by the look '{nodes['16']['slug']}'"
    chain = _wire_loras(graph, nodes)
    applied = _apply_checkpoint(graph, settings, steps, cfg)

    if seed is None:
        seed = random.SystemRandom().randint(0, SEED_MAX)
    for node_id in (SAMPLER, *DETAILERS):
        if node_id in graph:
            graph[node_id]["inputs"]["seed"] = int(seed)
    graph[LATENT]["inputs"].update(width=int(width), height=int(height))
    graph[FACE_PROMPT]["inputs"]["text"] = join_tags(face)
    graph[HAND_PROMPT]["inputs"]["text"] = join_tags(hand)

    # the very last step: cross de-duplication of nodes 6 and 7
    dedup = cross_dedup_tags(positive, negative)
    graph[POSITIVE]["inputs"]["text"] = join_tags(dedup.positive)
    graph[NEGATIVE]["inputs"]["text"] = join_tags(dedup.negative)

    info = {
        "positive": graph[POSITIVE]["inputs"]["text"], "negative": graph[NEGATIVE]["inputs"]["text"],
        "face": graph[FACE_PROMPT]["inputs"]["text"], "hand": graph[HAND_PROMPT]["inputs"]["text"],
        "loras": chain, "unwired_loras": unwired, "seed": int(seed), "width": int(width),
        "height": int(height), "checkpoint": settings["checkpoint_path"], **applied,
        "tags": provenance(positive, negative, dedup), "warnings": warnings,
    }
    return graph, info


def provenance(positive: Sequence[Tag], negative: Sequence[Tag], dedup) -> list[dict]:
    """Every composed tag in prompt order with its side, source, and whether
    cross de-duplication removed it."""
    out = []
    for side, tags, removed in (("positive", positive, dedup.removed_positive),
                                ("negative", negative, dedup.removed_negative)):
        left = Counter(t.key for t in removed)  # de-dup removes the first occurrences
        for tag in tags:
            gone = left[tag.key] > 0
            left[tag.key] -= gone
            out.append({"tag": tag.text, "side": side, "source": dict(tag.source), "removed_by_dedup": gone})
    return out


__all__ = ["Prompts", "adapt_to_server", "checkpoint_settings", "load_template", "new_node_id",
           "prepare_workflow", "provenance", "validate_against_server"]
