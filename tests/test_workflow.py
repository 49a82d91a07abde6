"""Workflow wiring (SPEC §4): template, LoRA chain, look, checkpoint, seeds,
cross de-dup, and fitting the graph to a server. Every graph built here is
validated against the recorded /object_info (the `checked_graphs` fixture)."""
from __future__ import annotations

import copy
import itertools
import json

import pytest

import gaze.workflow as wf
from gaze.prompts import build_prompt, split_tags
from gaze.workflow import LORA_NODES, adapt_to_server, load_template, validate_against_server
from gaze.workflow import prepare_workflow as unchecked_prepare_workflow  # for deliberately invalid graphs
from tests.prompt_helpers import (  # noqa: F401
    FACE,
    HAND,
    SERVER,
    TEST_VAE,
    assert_valid,
    checked_graphs,
    contract,
    load_json,
    object_info,
)

pytestmark = pytest.mark.usefixtures("checked_graphs")

CKPT = "Illustrious/test_model.safetensors"
CKPT_DATA = load_json("checkpoints", "test_model")
MIRA = load_json("characters", "mira_vance")
CONSUMERS = {"3": ["model"], "6": ["clip"], "7": ["clip"], "11": ["model", "clip"], "13": ["model", "clip"],
             "14": ["clip"], "15": ["clip"]}


def lora(name: str, weight: float = 0.8, triggers: str = "") -> dict:
    return {"lora_name": name, "lora_weight": weight, "lora_triggers": triggers}


def asset(category_id_key: str, asset_id: str, lora_name: str = "", **extra) -> dict:
    return {category_id_key: asset_id, "lora": lora(lora_name), **extra}


CHAR = {**copy.deepcopy(MIRA), "lora": lora("Illustrious/Looks/test_char.safetensors", 0.9, "mira vance")}
OUTFIT = asset("outfit_id", "test_outfit", "Illustrious/Clothing/test_outfit.safetensors",
               wardrobe={"top": "red dress"})
ACTION = asset("action_id", "test_pose", "Illustrious/Poses/test_pose.safetensors", action={"arms": "arms up"})
STYLE = asset("style_id", "test_style", "Illustrious/Styles/test_style.safetensors",
              style={"artistic_style": "watercolor (medium)"})
DETAILER = asset("detailer_id", "test_detail", "Illustrious/Detailers/test_detail.safetensors",
                 prompt=["detailed eyes"], focus={"face": True, "hands": False})
SCENE = asset("scene_id", "test_scene", "Illustrious/Backgrounds/test_scene.safetensors",
              scene={"background": "beach"})
LOOK = asset("look_id", "test_look", "Illustrious/Looks/test_look.safetensors",
             character_id="mira_vance", positive="glasses, cardigan", negative="short hair, bad anatomy")


def build(*, checked: bool = True, **kwargs):
    """prepare_workflow with the test checkpoint and a fixed seed; through the
    module attribute, so that `checked_graphs` validates the graph."""
    kwargs.setdefault("checkpoint", CKPT)
    kwargs.setdefault("checkpoint_data", CKPT_DATA)
    kwargs.setdefault("seed", 1234)
    if "prompts" not in kwargs:
        character = kwargs.get("character")
        kwargs["prompts"] = build_prompt(character, [], None, None) if character else None
    return (wf.prepare_workflow if checked else unchecked_prepare_workflow)(**kwargs)


def source_of(graph: dict, node_id: str, name: str):
    return graph[node_id]["inputs"][name]


# ----------------------------------------------------------------- template

def test_template_node_map():
    graph = load_template()
    classes = {k: v["class_type"] for k, v in graph.items()}
    assert classes == {
        "3": "KSampler", "4": "CheckpointLoaderSimple", "5": "EmptyLatentImage", "6": "CLIPTextEncode",
        "7": "CLIPTextEncode", "8": "VAEDecode", "9": "SaveImage", "11": "FaceDetailer", "13": "FaceDetailer",
        "14": "CLIPTextEncode", "15": "CLIPTextEncode", "16": "LoraLoader", "17": "LoraLoader",
        "18": "LoraLoader", "19": "LoraLoader", "20": "UltralyticsDetectorProvider",
        "21": "UltralyticsDetectorProvider"}
    assert graph["6"]["inputs"]["text"] == "{{POSITIVE_PROMPT}}"
    assert graph["14"]["inputs"]["text"] == "{{FACE_PROMPT}}"
    assert graph["15"]["inputs"]["text"] == "{{HAND_PROMPT}}"
    assert graph["9"]["inputs"] == {"filename_prefix": "GAZE", "images": ["13", 0]}
    assert graph["13"]["inputs"]["image"] == ["11", 0] and graph["11"]["inputs"]["image"] == ["8", 0]
    assert graph["11"]["inputs"]["positive"] == ["14", 0] and graph["13"]["inputs"]["positive"] == ["15", 0]
    assert graph["11"]["inputs"]["bbox_detector"] == ["20", 0] and graph["20"]["inputs"]["model_name"] == FACE
    assert graph["13"]["inputs"]["bbox_detector"] == ["21", 0] and graph["21"]["inputs"]["model_name"] == HAND


def test_face_detailer_inputs_are_exactly_the_recorded_schema():
    recorded = contract("facedetailer_inputs.json")
    required = [i["name"] for i in recorded["required_inputs"]]
    example = recorded["example_prompt_that_ran"]["11"]["inputs"]
    for node_id in ("11", "13"):
        inputs = load_template()[node_id]["inputs"]
        assert sorted(inputs) == sorted(required)
        assert sorted(inputs) == sorted(example), "the same input set as the prompt that ran"
        assert inputs["wildcard"] == "" and inputs["sam_mask_hint_use_negative"] == "False"


def test_template_is_cached_but_every_call_gets_its_own_copy():
    first = load_template()
    first["6"]["inputs"]["text"] = "changed"
    del first["16"]
    second = load_template()
    assert second["6"]["inputs"]["text"] == "{{POSITIVE_PROMPT}}" and "16" in second
    build(character=CHAR, outfit=OUTFIT)
    assert load_template() == second, "prepare_workflow never mutates the template"


# ------------------------------------------------------------- LoRA chain

SLOTS = ("character", "outfit", "action", "node19")
NODE19_SOURCES = (("style", STYLE), ("detailer", DETAILER), ("scene", SCENE))


SUBSETS = [tuple(c) for n in range(5) for c in itertools.combinations(SLOTS, n)]


@pytest.mark.parametrize("index, present", list(enumerate(SUBSETS)), ids=["+".join(p) or "none" for p in SUBSETS])
def test_every_lora_subset_gives_a_clean_chain(index, present):
    kwargs: dict = {}
    expected = []
    for slot, node_id, value in (("character", "16", CHAR), ("outfit", "17", OUTFIT), ("action", "18", ACTION)):
        if slot in present:
            kwargs[slot] = value
            expected.append((node_id, value["lora"]["lora_name"]))
        elif slot == "character":
            kwargs["character"] = {**CHAR, "lora": lora("")}  # a character without a LoRA
    if "node19" in present:  # rotate the node-19 source so each of style/detailer/scene is covered
        name, value = NODE19_SOURCES[index % 3]
        kwargs[name] = value
        expected.append(("19", value["lora"]["lora_name"]))
    graph, info = build(**kwargs)

    assert [(c["node"], c["lora_name"]) for c in info["loras"]] == expected
    loaders = {k: v for k, v in graph.items() if v["class_type"] == "LoraLoader"}
    assert sorted(loaders) == [n for n, _ in expected], "unused LoRA nodes are removed"
    assert all(v["inputs"]["lora_name"] for v in loaders.values()), "never an empty LoRA name"
    previous = "4"
    for node_id, _ in expected:  # 4 → … chained through the active nodes only
        assert graph[node_id]["inputs"]["model"] == [previous, 0]
        assert graph[node_id]["inputs"]["clip"] == [previous, 1]
        previous = node_id
    for node_id, names in CONSUMERS.items():
        for name in names:
            assert source_of(graph, node_id, name) == [previous, 0 if name == "model" else 1], (node_id, name)
    referenced = {str(v[0]) for n in graph.values() for v in n["inputs"].values() if isinstance(v, list)}
    assert referenced <= set(graph), "no link points at a removed node"


def test_lora_strengths_come_from_the_weights():
    graph, info = build(character=CHAR, outfit={**OUTFIT, "lora": lora(OUTFIT["lora"]["lora_name"], 0.35)})
    assert graph["17"]["inputs"]["strength_model"] == graph["17"]["inputs"]["strength_clip"] == 0.35
    assert info["loras"][0] == {"node": "16", "lora_name": "Illustrious/Looks/test_char.safetensors",
                                "strength": 0.9}


@pytest.mark.parametrize("given, winner", [
    (("style", "detailer", "scene"), "style"),
    (("detailer", "scene"), "detailer"),
    (("scene",), "scene"),
    (("style", "scene"), "style"),
])
def test_node19_priority_style_detailer_scene(given, winner):
    values = {"style": STYLE, "detailer": DETAILER, "scene": SCENE}
    graph, info = build(character=CHAR, **{k: values[k] for k in given})
    assert graph["19"]["inputs"]["lora_name"] == values[winner]["lora"]["lora_name"]
    positive = split_tags(info["positive"])
    for name in given:  # the losers' prompt text still reaches the prompt
        text = {"style": "watercolor (medium)", "detailer": "detailed eyes", "scene": "beach"}[name]
        assert text in positive
    assert sorted(u["slug"] for u in info["unwired_loras"]) == sorted(
        values[k]["style_id" if k == "style" else f"{k}_id"] for k in given if k != winner)


def test_node19_goes_to_the_first_that_has_a_lora():
    graph, info = build(style={**STYLE, "lora": lora("")}, scene=SCENE)
    assert graph["19"]["inputs"]["lora_name"] == SCENE["lora"]["lora_name"]
    assert "watercolor (medium)" in info["positive"]


def test_lists_per_slot_wire_the_first_lora_and_keep_every_prompt():
    no_lora = {**OUTFIT, "outfit_id": "plain", "lora": lora(""), "wardrobe": {"top": "apron"}}
    graph, info = build(outfit=[no_lora, OUTFIT, {**OUTFIT, "outfit_id": "other", "wardrobe": {"top": "coat"}}])
    assert graph["17"]["inputs"]["lora_name"] == OUTFIT["lora"]["lora_name"]
    assert [u["slug"] for u in info["unwired_loras"]] == ["other"]
    assert {"apron", "red dress", "coat"} <= set(split_tags(info["positive"]))


# --------------------------------------------------------------------- look

def test_look_replaces_the_character_lora_and_prepends_its_negative():
    graph, info = build(character=CHAR, look=LOOK, outfit=OUTFIT)
    assert graph["16"]["inputs"]["lora_name"] == "Illustrious/Looks/test_look.safetensors"
    assert [c["node"] for c in info["loras"]] == ["16", "17"]
    negative = split_tags(graph["7"]["inputs"]["text"])
    assert negative[0] == "short hair", "the look's negative comes first"
    assert negative.index("short hair") < negative.index("lowres")
    assert {"glasses", "cardigan"} <= set(split_tags(info["positive"]))
    assert info["unwired_loras"][0]["reason"] == "replaced by the look 'test_look'"


def test_look_without_a_lora_leaves_the_character_lora():
    graph, info = build(character=CHAR, look={**LOOK, "lora": lora("")})
    assert graph["16"]["inputs"]["lora_name"] == CHAR["lora"]["lora_name"]
    assert split_tags(info["negative"])[0] == "short hair"


def test_look_alone():
    _graph, info = build(look=LOOK)
    assert [c["lora_name"] for c in info["loras"]] == ["Illustrious/Looks/test_look.safetensors"]
    assert info["positive"].startswith("masterpiece, best quality, absurdres, glasses, cardigan")


# --------------------------------------------------------------- checkpoint

def test_checkpoint_settings_are_applied():
    noob = load_json("checkpoints", "test_noob")
    graph, info = build(checkpoint=noob["checkpoint_path"], checkpoint_data=noob, character=CHAR)
    assert graph["4"]["inputs"]["ckpt_name"] == "Noob/test_noob.safetensors"
    for node_id in ("3", "11", "13"):
        inputs = graph[node_id]["inputs"]
        assert (inputs["steps"], inputs["cfg"], inputs["sampler_name"], inputs["scheduler"]) == (
            30, 4.5, "dpmpp_2m", "karras")
    assert info["positive"].startswith("masterpiece, best quality, very aesthetic, newest, 1girl")
    assert info["negative"].startswith("worst quality, low quality, lowres")
    assert "VAELoader" not in {n["class_type"] for n in graph.values()}
    assert graph["8"]["inputs"]["vae"] == ["4", 2]


def test_request_steps_and_cfg_override_the_checkpoint():
    graph, info = build(steps=12, cfg=3.5)
    assert (graph["3"]["inputs"]["steps"], graph["3"]["inputs"]["cfg"]) == (12, 3.5)
    assert (info["steps"], info["cfg"]) == (12, 3.5)


def test_checkpoint_without_json_gets_the_defaults():
    graph, info = build(checkpoint="Illustrious/model.safetensors", checkpoint_data=None)
    assert graph["4"]["inputs"]["ckpt_name"] == "Illustrious/model.safetensors"
    assert (info["steps"], info["cfg"], info["sampler_name"], info["scheduler"], info["vae"]) == (
        25, 5.0, "euler_ancestral", "normal", "integrated")


def test_a_separate_vae_gets_a_vae_loader():
    graph, info = build(checkpoint_data={**CKPT_DATA, "vae": TEST_VAE}, character=CHAR)
    loaders = [k for k, v in graph.items() if v["class_type"] == "VAELoader"]
    assert len(loaders) == 1
    vae_id = loaders[0]
    assert vae_id not in {"3", "4", "5", "6", "7", "8", "9", "11", "13", "14", "15", "16", "17", "18", "19"}
    assert graph[vae_id]["inputs"] == {"vae_name": TEST_VAE}
    for node_id in ("8", "11", "13"):
        assert graph[node_id]["inputs"]["vae"] == [vae_id, 0]
    assert info["vae"] == TEST_VAE
    server_without_it = object_info(vaes=["pixel_space"])
    assert validate_against_server(graph, server_without_it) == [f"VAE '{TEST_VAE}' is not on the ComfyUI server"]


# -------------------------------------------------------------- seeds, size

def test_fixed_seed_is_reproducible():
    kwargs = {"character": CHAR, "look": LOOK, "outfit": OUTFIT, "action": ACTION, "style": STYLE,
              "scene": SCENE, "extra_positive": "smile", "extra_negative": "blurry", "width": 832,
              "height": 1216, "seed": 99}
    first, info1 = build(**kwargs)
    second, info2 = build(**kwargs)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert info1 == info2
    assert first["3"]["inputs"]["seed"] == first["11"]["inputs"]["seed"] == first["13"]["inputs"]["seed"] == 99
    assert first["5"]["inputs"] == {"width": 832, "height": 1216, "batch_size": 1}


def test_seeds_are_random_unless_given():
    seeds = {build(seed=None)[1]["seed"] for _ in range(6)}
    assert len(seeds) > 1
    graph, info = build(seed=None)
    assert graph["3"]["inputs"]["seed"] == info["seed"] and 0 <= info["seed"] < 2 ** 53


# ------------------------------------------------------ prompts and dedup

def test_prompt_order_and_sources():
    graph, info = build(character=CHAR, outfit=OUTFIT, extra_positive="sparkles", extra_negative="blurry")
    positive = split_tags(graph["6"]["inputs"]["text"])
    assert positive[:4] == ["masterpiece", "best quality", "absurdres", "1girl"]
    assert positive[-1] == "sparkles" and "red dress" in positive
    assert split_tags(graph["7"]["inputs"]["text"])[-1] == "blurry"
    sources = {t["tag"]: t["source"] for t in info["tags"]}
    assert sources["masterpiece"] == {"kind": "checkpoint", "path": CKPT, "field": "base_positive"}
    assert sources["red dress"] == {"kind": "asset", "category": "outfits", "slug": "test_outfit",
                                    "field": "wardrobe::top"}
    assert sources["sparkles"] == {"kind": "user", "field": "extra_positive"}
    assert sources["blurry"] == {"kind": "user", "field": "extra_negative"}
    assert graph["14"]["inputs"]["text"] == info["face"] and "violet eyes" in info["face"]


def test_cross_dedup_is_the_last_step():
    # 'bad anatomy' is in the checkpoint's base negative once
    graph, info = build(character=CHAR, extra_positive="bad anatomy, bad anatomy, smile", extra_negative="smile")
    positive, negative = split_tags(graph["6"]["inputs"]["text"]), split_tags(graph["7"]["inputs"]["text"])
    assert positive.count("bad anatomy") == 1 and "bad anatomy" not in negative
    assert positive.count("smile") == 1, "the character's smile and the user's cancel one negative smile"
    assert "smile" not in negative
    assert not set(positive) & set(negative)
    removed = [(t["tag"], t["side"], t["source"].get("field")) for t in info["tags"] if t["removed_by_dedup"]]
    assert removed == [("smile", "positive", "defaults::expression"),
                       ("bad anatomy", "positive", "extra_positive"),
                       ("bad anatomy", "negative", "base_negative"), ("smile", "negative", "extra_negative")]
    kept = [t["tag"] for t in info["tags"] if t["side"] == "positive" and not t["removed_by_dedup"]]
    assert ", ".join(kept) == info["positive"]
    kept_neg = [t["tag"] for t in info["tags"] if t["side"] == "negative" and not t["removed_by_dedup"]]
    assert ", ".join(kept_neg) == info["negative"]


def test_prompts_are_built_when_not_given():
    _graph, info = build(character=CHAR, prompts=None)
    assert info["positive"] == build(character=CHAR)[1]["positive"]
    assert "Mira Vance" in info["face"]


def test_plain_and_edited_prompts_are_accepted():
    graph, info = build(prompts={"main": "1girl, red hair", "face": "red hair", "hand": ""})
    assert "1girl, red hair" in info["positive"] and graph["14"]["inputs"]["text"] == "red hair"
    assert next(t for t in info["tags"] if t["tag"] == "red hair")["source"] == {"kind": "prompt", "field": "main"}
    prompts = build_prompt(CHAR, ["identity::hair"], None, None)
    prompts["main"] += ", extra tag"
    _graph, info = build(prompts=prompts)
    sources = {t["tag"]: t["source"] for t in info["tags"]}
    assert sources["silver hair"]["field"] == "identity::hair"
    assert sources["extra tag"] == {"kind": "unknown"}


def test_info_shape():
    _graph, info = build(character=CHAR, style=STYLE)
    assert set(info) >= {"positive", "negative", "face", "hand", "loras", "unwired_loras", "seed", "width",
                         "height", "checkpoint", "steps", "cfg", "sampler_name", "scheduler", "vae", "tags",
                         "warnings"}
    assert info["loras"] == [{"node": "16", "lora_name": CHAR["lora"]["lora_name"], "strength": 0.9},
                             {"node": "19", "lora_name": STYLE["lora"]["lora_name"], "strength": 0.8}]
    assert all(set(t) == {"tag", "side", "source", "removed_by_dedup"} for t in info["tags"])
    json.dumps(info)  # serialisable as is


def test_no_checkpoint_is_a_warning_and_a_validation_message():
    graph, info = unchecked_prepare_workflow(prompts=None, seed=1)
    assert info["warnings"] and graph["4"]["inputs"]["ckpt_name"] == ""
    assert "Node 4 (CheckpointLoaderSimple): no checkpoint is selected" in validate_against_server(graph, SERVER)


# ------------------------------------------------------------ adapt_to_server

def full_graph():
    return build(character=CHAR, outfit=OUTFIT)[0]


def test_adapt_keeps_everything_when_the_server_has_it():
    graph = full_graph()
    adapted, dropped = adapt_to_server(graph, SERVER)
    assert dropped == [] and adapted == graph
    assert_valid(adapted)


def test_adapt_without_impact_pack_drops_the_detailer_branch():
    graph = full_graph()
    before = copy.deepcopy(graph)
    server = object_info(impact=False)
    adapted, dropped = adapt_to_server(graph, server)
    assert graph == before, "the input graph is not modified"
    assert not {"11", "13", "14", "15", "20", "21"} & set(adapted)
    assert adapted["9"]["inputs"]["images"] == ["8", 0]
    assert len(dropped) == 2 and all("FaceDetailer" in d for d in dropped)
    assert dropped[0].startswith("Face detailer") and dropped[1].startswith("Hand detailer")
    assert validate_against_server(graph, server)[0] == (
        "Node 11: node type 'FaceDetailer' is not installed on the ComfyUI server")
    assert_valid(adapted, server)


def test_adapt_without_the_detector_provider():
    adapted, dropped = adapt_to_server(full_graph(), object_info(ultralytics=False))
    assert "11" not in adapted and "13" not in adapted and adapted["9"]["inputs"]["images"] == ["8", 0]
    assert all("UltralyticsDetectorProvider" in d for d in dropped)
    assert_valid(adapted, object_info(ultralytics=False))


def test_adapt_drops_only_the_detailer_whose_model_is_missing():
    server = object_info(detectors=[HAND])
    adapted, dropped = adapt_to_server(full_graph(), server)
    assert not {"11", "14", "20"} & set(adapted) and {"13", "15", "21"} <= set(adapted)
    assert adapted["13"]["inputs"]["image"] == ["8", 0] and adapted["9"]["inputs"]["images"] == ["13", 0]
    assert dropped == [("Face detailer left out (nodes 11, 14, 20): the detector model 'bbox/face_yolov8m.pt' "
                        "is not on the ComfyUI server (models/ultralytics/)")]
    assert_valid(adapted, server)
    server = object_info(detectors=[FACE])
    adapted, dropped = adapt_to_server(full_graph(), server)
    assert "13" not in adapted and adapted["9"]["inputs"]["images"] == ["11", 0]
    assert len(dropped) == 1 and dropped[0].startswith("Hand detailer")
    assert_valid(adapted, server)


def test_adapt_uses_the_configured_detector_models():
    recorded = contract("object_info_impact.json")["body"]["UltralyticsDetectorProvider"]
    random_face = recorded["input"]["required"]["model_name"][0][0]  # the live server's one detector
    server = object_info(detectors=[random_face, "bbox/hands.pt"])
    adapted, dropped = adapt_to_server(full_graph(), server, face_detector=random_face,
                                       hand_detector="bbox/hands.pt")
    assert dropped == []
    assert adapted["20"]["inputs"]["model_name"] == random_face
    assert adapted["21"]["inputs"]["model_name"] == "bbox/hands.pt"
    assert_valid(adapted, server)


# ------------------------------------------------------ validate_against_server

def test_validate_names_missing_loras_and_checkpoints():
    graph = build(character=CHAR, outfit={**OUTFIT, "lora": lora("Illustrious/Clothing/maid.safetensors")},
                  checkpoint="Illustrious/missing.safetensors", checkpoint_data=None, checked=False)[0]
    server = object_info(loras=[CHAR["lora"]["lora_name"]])
    assert validate_against_server(graph, server) == [
        "Checkpoint 'Illustrious/missing.safetensors' is not on the ComfyUI server",
        "LoRA 'Illustrious/Clothing/maid.safetensors' is not on the ComfyUI server"]
    recorded_loras = contract("models_loras.json")["body"]
    assert "LoRA 'Illustrious/Looks/test_char.safetensors' is not on the ComfyUI server" not in \
        validate_against_server(graph, object_info(loras=recorded_loras))


def test_validate_detector_and_other_combo_choices():
    graph = full_graph()
    graph["3"]["inputs"]["sampler_name"] = "euler_magic"
    graph["3"]["inputs"]["scheduler"] = "AYS SDXL"    # FaceDetailer knows it, KSampler does not
    graph["13"]["inputs"]["scheduler"] = "AYS SDXL"
    problems = validate_against_server(graph, object_info(detectors=[HAND]))
    assert problems[0].startswith("Node 3 (KSampler): sampler_name 'euler_magic' is not one of the server's "
                                  "choices (euler, euler_cfg_pp,")
    assert problems[1].startswith("Node 3 (KSampler): scheduler 'AYS SDXL' is not one of the server's choices")
    assert "Detector model 'bbox/face_yolov8m.pt' is not on the ComfyUI server" in problems
    assert len(problems) == 3


def test_validate_structure_problems():
    graph = full_graph()
    graph["99"] = {"class_type": "MagicNode", "inputs": {}}
    del graph["3"]["inputs"]["seed"]
    graph["8"]["inputs"]["samples"] = ["42", 0]
    graph["6"]["inputs"]["clip"] = ["4", 5]
    graph["7"]["inputs"]["clip"] = ["4", 0]
    graph["11"]["inputs"]["bbox_detector"] = "bbox/face.pt"
    problems = validate_against_server(graph, SERVER)
    assert problems == [
        "Node 3 (KSampler) is missing the required input 'seed'",
        ("Node 6 (CLIPTextEncode) input 'clip' links to output 5 of node 4 (CheckpointLoaderSimple), "
         "which has 3 outputs"),
        "Node 7 (CLIPTextEncode) input 'clip' expects CLIP but node 4 (CheckpointLoaderSimple) output 0 is MODEL",
        "Node 8 (VAEDecode) input 'samples' links to node 42, which is not in the graph",
        "Node 11 (FaceDetailer): bbox_detector must be a link to a BBOX_DETECTOR output, not 'bbox/face.pt'",
        "Node 99: node type 'MagicNode' is not installed on the ComfyUI server"]


def test_validate_numbers_and_types():
    graph = full_graph()
    graph["3"]["inputs"]["steps"] = 0
    graph["5"]["inputs"]["width"] = 20000
    graph["3"]["inputs"]["cfg"] = "high"
    graph["11"]["inputs"]["denoise"] = 1.5
    graph["11"]["inputs"]["noise_mask"] = "yes"
    graph["13"]["inputs"]["steps"] = 2.5
    graph["6"]["inputs"]["text"] = 7
    assert validate_against_server(graph, SERVER) == [
        "Node 3 (KSampler): steps 0 is below the minimum 1",
        "Node 3 (KSampler): cfg must be a number, not 'high'",
        "Node 5 (EmptyLatentImage): width 20000 is above the maximum 16384",
        "Node 6 (CLIPTextEncode): text must be text, not 7",
        "Node 11 (FaceDetailer): denoise 1.5 is above the maximum 1.0",
        "Node 11 (FaceDetailer): noise_mask must be true or false, not 'yes'",
        "Node 13 (FaceDetailer): steps must be a whole number, not 2.5"]


def test_validate_requires_an_output_node():
    graph = full_graph()
    del graph["9"]
    assert validate_against_server(graph, SERVER) == [
        "The graph has no output node (such as SaveImage), so ComfyUI would run nothing"]


def test_recorded_example_prompt_validates():
    example = contract("facedetailer_inputs.json")["example_prompt_that_ran"]
    server = object_info(loras=contract("models_loras.json")["body"],
                         detectors=["bbox/face_yolov8n_random.pt"])
    assert validate_against_server(example, server) == []


def test_every_built_graph_is_checked(request):
    recorded = request.getfixturevalue("checked_graphs")
    build(character=CHAR)
    build(look=LOOK, checked=False)
    assert len(recorded) == 1 and LORA_NODES == ("16", "17", "18", "19")
