"""The Library's main journeys in a real browser (Playwright on the system Chromium)."""
from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from tests.conftest import screenshot

pytestmark = pytest.mark.browser


def entry(library, folder, filename):
    return json.loads((library / folder / filename).read_text())


def _portrait(hue: int) -> io.BytesIO:
    """A simple stand-in cover: a gradient and a figure, 768×1024."""
    img = Image.new("RGB", (768, 1024))
    px = Image.linear_gradient("L").resize((768, 1024))
    img = Image.merge("RGB", (px.point(lambda v: (v + hue) % 256), px.point(lambda v: 80 + v // 3),
                              px.point(lambda v: 255 - v // 2)))
    from PIL import ImageDraw
    draw = ImageDraw.Draw(img)
    draw.ellipse((254, 180, 514, 470), fill=(250, 222, 200))
    draw.rounded_rectangle((184, 500, 584, 1024), radius=120, fill=((hue * 3) % 256, 90, 140))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    buf.seek(0)
    return buf


def test_browse_search_open_edit_and_see_it_saved(live_server, page, library):
    from gaze import assets
    from models import Character
    with live_server.app.app_context():
        for i, slug in enumerate(["mira_vance", "kaito_winter", "hana_okabe", "juno_and_theo", "noelle_ashgrove"]):
            assets.upload_cover("characters", Character.query.filter_by(slug=slug).one(), _portrait(i * 50))
    page.goto(live_server.url + "/")
    page.locator(".asset-card").first.wait_for()
    screenshot(page, "gallery")
    page.fill("#q", "mira")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r"q=mira"))
    assert page.locator(".asset-card").count() == 1
    page.locator(".asset-card", has_text="Mira Vance").click()
    page.wait_for_url(live_server.url + "/character/mira_vance")
    page.locator("#wardrobe").wait_for()
    screenshot(page, "character")
    page.click("#edit-entry")
    page.wait_for_url(re.compile(r"/character/mira_vance/edit$"))
    page.fill('[name="identity.eyes"]', "violet eyes, sharp eyes")
    page.fill('[name="lora.lora_weight"]', "0.65")
    page.click("#save-entry")
    page.wait_for_url(live_server.url + "/character/mira_vance")
    assert "Saved Mira Vance" in page.locator("#flash-area").inner_text()
    assert page.locator('[data-value-for="identity.eyes"]').inner_text() == "violet eyes, sharp eyes"
    saved = entry(library, "characters", "mira_vance.json")
    assert saved["identity"]["eyes"] == "violet eyes, sharp eyes" and saved["lora"]["lora_weight"] == 0.65


def test_edit_with_a_bad_value_shows_the_error_by_the_field(live_server, page, library):
    before = (library / "clothing" / "adventurer_gear.json").read_bytes()
    page.goto(live_server.url + "/outfit/adventurer_gear/edit")
    page.fill('[name="wardrobe.top"]', "should not be saved")
    page.fill('[name="lora.lora_weight"]', "5")
    page.click("#save-entry")
    error = page.locator('[data-error-for="lora.lora_weight"]')
    error.wait_for()
    assert "between 0 and 2" in error.inner_text()
    assert page.input_value('[name="wardrobe.top"]') == "should not be saved"
    assert (library / "clothing" / "adventurer_gear.json").read_bytes() == before


def test_wardrobe_add_rename_switch_delete(live_server, page, library):
    page.on("dialog", lambda d: d.accept())
    page.goto(live_server.url + "/character/pip_marlowe")
    page.fill('#add-outfit-form [name="name"]', "rainy day")
    page.click("#add-outfit")
    page.wait_for_selector('#active-outfit:has-text("rainy day")')
    page.fill('#rename-outfit-form [name="name"]', "storm")
    page.click("#rename-outfit")
    page.wait_for_selector('#active-outfit:has-text("storm")')
    assert list(entry(library, "characters", "pip_marlowe.json")["wardrobe"]) == ["default", "casual", "storm"]
    page.click('[data-outfit="casual"]')
    page.wait_for_selector('#active-outfit:has-text("casual")')
    assert entry(library, "characters", "pip_marlowe.json")["active_outfit"] == "casual"
    page.click('[data-outfit="storm"]')
    page.wait_for_selector('#active-outfit:has-text("storm")')
    page.click("#delete-outfit")
    page.wait_for_selector('#active-outfit:has-text("default")')
    assert list(entry(library, "characters", "pip_marlowe.json")["wardrobe"]) == ["default", "casual"]
    assert page.locator('[data-outfit]').all_inner_texts() == ["default", "casual"]


def test_legacy_wardrobe_becomes_nested_on_first_add(live_server, page, library):
    page.goto(live_server.url + "/character/sera_lindqvist")
    assert "single (legacy) outfit" in page.locator("#wardrobe").inner_text()
    page.fill('#add-outfit-form [name="name"]', "armor")
    page.click("#add-outfit")
    page.wait_for_selector('[data-outfit="default"]')
    assert list(entry(library, "characters", "sera_lindqvist.json")["wardrobe"]) == ["default", "armor"]


def test_clone_an_outfit(live_server, page, library):
    page.goto(live_server.url + "/outfit/yukata_festival")
    page.click("#clone-entry")
    page.wait_for_url(live_server.url + "/outfit/yukata_festival_copy")
    assert page.locator("#entry-name").inner_text() == f"{entry(library, 'clothing', 'yukata_festival.json')['outfit_name']} (copy)"
    assert (library / "clothing" / "yukata_festival_copy.json").exists()


def test_upload_a_cover_and_see_its_thumbnail(live_server, page, tmp_path):
    picture = tmp_path / "cover.png"
    Image.new("RGB", (1024, 1024), (200, 120, 40)).save(picture)
    page.goto(live_server.url + "/character/noelle_ashgrove")
    page.set_input_files('#upload-form [name="image"]', str(picture))
    page.click("#upload-cover")
    page.wait_for_selector("img#cover-img")
    assert "Cover updated" in page.locator("#flash-area").inner_text()
    page.goto(live_server.url + "/?q=noelle")
    img = page.locator(".asset-card img")
    img.wait_for()
    assert "/thumb/characters/noelle_ashgrove/cover_" in img.get_attribute("src")
    size = page.evaluate("async (src) => { const r = await fetch(src); const b = await r.blob();"
                         " return [r.headers.get('content-type'), b.size, r.headers.get('cache-control')]; }",
                         img.get_attribute("src"))
    assert size[0] == "image/webp" and size[1] < 20_000 and "immutable" in size[2]
    assert page.evaluate("document.querySelector('.asset-card img').naturalWidth") == 384


def _delete(page, mode):
    page.click("#delete-entry")
    page.locator("#delete-modal").wait_for(state="visible")
    page.check(f"#delete-{mode}")
    page.click("#delete-confirm")


def test_soft_and_hard_delete(lora_root, live_server, page, library):
    lora = lora_root / "Illustrious/Clothing/fantasy/adventurer_gear.safetensors"
    page.goto(live_server.url + "/outfit/sailor_uniform_summer")
    _delete(page, "soft")
    page.wait_for_url(re.compile(r"/outfits/?$"))
    assert not (library / "clothing" / "sailor_uniform_summer.json").exists()
    page.goto(live_server.url + "/outfit/adventurer_gear")
    _delete(page, "hard")
    page.wait_for_url(re.compile(r"/outfits/?$"))
    assert "LoRA Illustrious/Clothing/fantasy/adventurer_gear.safetensors" in page.locator("#flash-area").inner_text()
    assert not lora.exists() and not (library / "clothing" / "adventurer_gear.json").exists()


def test_hard_delete_refused_for_a_lora_outside_the_root(lora_root, live_server, page, library, tmp_path):
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(b"not yours")
    data = entry(library, "clothing", "winter_coat_set.json")
    data["lora"]["lora_name"] = "../outside.safetensors"
    (library / "clothing" / "winter_coat_set.json").write_text(json.dumps(data))
    with live_server.app.app_context():
        from gaze.sync import sync_all
        sync_all(library)
    page.goto(live_server.url + "/outfit/winter_coat_set")
    _delete(page, "hard")
    page.wait_for_url(live_server.url + "/outfit/winter_coat_set")
    assert "not inside the LoRA folder" in page.locator("#flash-area").inner_text()
    assert outside.exists() and (library / "clothing" / "winter_coat_set.json").exists()


def test_json_modal_valid_and_invalid_edits(live_server, page, library):
    page.goto(live_server.url + "/scene/cozy_cafe")
    page.click("#open-json-editor")
    page.locator("#json-editor").wait_for(state="visible")
    # simple form tab: change a field and save
    page.fill("#je-scene-lighting", "candle light")
    page.click("#json-save")
    page.wait_for_load_state("load")
    page.locator('[data-value-for="scene.lighting"]:has-text("candle light")').wait_for()
    assert entry(library, "scenes", "cozy_cafe.json")["scene"]["lighting"] == "candle light"
    # raw tab: broken JSON is refused with a clear message
    page.click("#open-json-editor")
    page.click("#json-tab-raw")
    page.fill("#json-raw", '{"scene_id": "cozy_cafe", ')
    page.click("#json-save")
    assert "Invalid JSON" in page.locator("#json-error").inner_text()
    # a changed id is refused by the server, nothing written
    before = (library / "scenes" / "cozy_cafe.json").read_bytes()
    data = entry(library, "scenes", "cozy_cafe.json")
    data["scene_id"] = "renamed_cafe"
    page.fill("#json-raw", json.dumps(data))
    page.click("#json-save")
    page.locator("#json-error:has-text('id cannot be changed')").wait_for()
    assert (library / "scenes" / "cozy_cafe.json").read_bytes() == before


def test_phone_width_pages_fit_and_menu_opens(live_server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        for path in ("/", "/character/mira_vance", "/character/mira_vance/edit", "/outfits/",
                     "/checkpoint/Illustrious_test_model_safetensors", "/gallery"):
            page.goto(live_server.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} scrolls sideways ({width}px)"
        page.goto(live_server.url + "/")
        assert not page.locator('a[data-nav="outfits"]').is_visible()
        page.click(".navbar-toggler")
        page.locator('a[data-nav="outfits"]').click()
        page.wait_for_url(re.compile(r"/outfits/?$"))
        assert page.locator("#comfy-status").is_visible()
    finally:
        context.close()


def test_gallery_lightbox_and_default_checkpoint(live_server, page):
    folder = live_server.app.config["UPLOADS_DIR"] / "characters" / "mira_vance"
    folder.mkdir(parents=True)
    for i in range(2):
        Image.new("RGB", (640, 640), (i * 100, 30, 30)).save(folder / f"gen_{i}.png")
    page.goto(live_server.url + "/gallery")
    page.locator("a[data-lightbox]").first.click()
    page.locator("#lightbox").wait_for(state="visible")
    first = page.get_attribute("#lightbox-img", "src")
    assert "/media/characters/mira_vance/gen_" in first
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#lightbox-img", "src") != first
    page.keyboard.press("Escape")
    with page.expect_response(lambda r: r.url.endswith("/set_default_checkpoint")) as info:
        page.select_option("#default-checkpoint", "Noob/test_noob.safetensors")
    assert info.value.ok
    page.goto(live_server.url + "/outfit/adventurer_gear")
    assert page.input_value("#gen-checkpoint") == "Noob/test_noob.safetensors"
