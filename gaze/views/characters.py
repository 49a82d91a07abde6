"""What only characters (and looks) have: the wardrobe switcher and the
extra context of their detail pages."""
from __future__ import annotations

from flask import Blueprint, request

from models import Character, Look

from .. import categories, wardrobe
from ..assets import AssetError
from . import json_object
from .assets import DETAIL_EXTRAS
from .helpers import asset_or_404, detail_url, done, failed

bp = Blueprint("characters", __name__)
CHARACTERS = categories.REGISTRY["characters"]
OPERATIONS = ("switch", "add", "delete", "rename")


@bp.route("/character/<slug>/outfit/<any(switch, add, delete, rename):op>", methods=["POST"])
def outfit(slug: str, op: str):
    """Form fields: `outfit` names the existing outfit (switch, delete, rename),
    `name` the new name (add, rename); add may give `copy_from`."""
    character = asset_or_404(CHARACTERS, slug)
    back = detail_url(CHARACTERS, slug)
    form = request.form if not request.is_json else json_object()

    def text(key: str) -> str:  # JSON bodies may hold anything: only text names an outfit
        value = form.get(key)
        return value if isinstance(value, str) else ""

    target = text("outfit").strip()
    new_name = text("name")
    try:
        if op == "switch":
            wardrobe.switch_outfit(character, target)
            message = f"Now wearing {target}."
        elif op == "add":
            wardrobe.add_outfit(character, new_name, copy_from=(text("copy_from") or None))
            message = f"Added the outfit {character.active_outfit}."
        elif op == "delete":
            wardrobe.delete_outfit(character, target)
            message = f"Deleted the outfit {target}."
        else:
            wardrobe.rename_outfit(character, target, new_name)
            message = f"Renamed {target} to {' '.join(new_name.split())}."
    except AssetError as exc:
        return failed(str(exc), back)
    return done(message, back, active=character.active_outfit, outfits=character.outfit_names)


def character_extras(character: Character) -> dict:
    looks = Look.query.filter_by(parent_id=character.asset_id).order_by(Look.name).all()
    return {"looks": looks, "outfit_names": character.outfit_names,
            "active_outfit": character.active_outfit, "nested_wardrobe": character.wardrobe_is_nested}


def look_extras(look: Look) -> dict:
    owner = Character.query.filter_by(asset_id=look.parent_id).first() if look.parent_id else None
    return {"owner": owner}


DETAIL_EXTRAS["characters"] = character_extras
DETAIL_EXTRAS["looks"] = look_extras
