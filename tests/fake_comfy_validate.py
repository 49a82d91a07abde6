"""POST /prompt validation for the fake ComfyUI.

A close port of ComfyUI's ``execution.validate_prompt`` / ``validate_inputs``
driven by /object_info entries instead of Python node classes, so it yields
the same 400 bodies as the recorded ``prompt_error_*.json`` files: the same
error types, messages, details and ``extra_info`` keys, and the same
surprising placement of errors raised while following a bad link (filed under
the node holding the link, described by the downstream edge).
"""
from __future__ import annotations

import logging
import sys
import traceback
from typing import Any, Callable, Mapping

log = logging.getLogger(__name__)

# A custom validator gets the node's (converted) widget inputs and returns
# True or an error string, like a node's VALIDATE_INPUTS.
CustomValidator = Callable[[Any], "bool | str"]

ValidationResult = tuple[bool, "dict[str, Any] | None", list[str], dict[str, Any]]


def _full_type_name(typ: type) -> str:
    module = typ.__module__
    if module in (None, "builtins"):
        return typ.__qualname__
    return f"{module}.{typ.__qualname__}"


def validate_node_input(received_type: Any, input_type: Any) -> bool:
    """ComfyUI's non-strict type match ("*" and comma unions)."""
    if not received_type != input_type:
        return True
    if received_type == "*" or input_type == "*":
        return True
    if not isinstance(received_type, str) or not isinstance(input_type, str):
        return False
    received = {t.strip() for t in received_type.split(",")}
    wanted = {t.strip() for t in input_type.split(",")}
    return len(received & wanted) > 0


class PromptValidator:
    """Validates API-format prompts against a mapping class_type → object_info entry."""

    def __init__(self, node_defs: Mapping[str, dict[str, Any]],
                 custom: Mapping[str, Mapping[str, CustomValidator]] | None = None) -> None:
        self.node_defs = node_defs
        self.custom = custom or {}

    # -- helpers mirroring ComfyUI ----------------------------------------
    def _return_types(self, class_type: str) -> tuple:
        return tuple(self.node_defs[class_type]["output"])

    def _is_output(self, class_type: str) -> bool:
        return bool(self.node_defs[class_type].get("output_node"))

    @staticmethod
    def _input_info(class_def: dict[str, Any], name: str) -> tuple[Any, str | None, dict[str, Any]]:
        inputs = class_def.get("input", {})
        for category in ("required", "optional", "hidden"):
            if name in inputs.get(category, {}):
                info = inputs[category][name]
                if isinstance(info, str):  # hidden inputs are plain strings
                    return info, category, {}
                return info[0], category, (info[1] if len(info) > 1 else {})
        return None, None, {}

    # -- validate_inputs ----------------------------------------------------
    def validate_inputs(self, prompt: dict, item: str, validated: dict) -> tuple:
        unique_id = item
        if unique_id in validated:
            return validated[unique_id]
        inputs = prompt[unique_id]["inputs"]
        class_type = prompt[unique_id]["class_type"]
        class_def = self.node_defs[class_type]
        class_inputs = class_def.get("input", {})
        valid_inputs = list(class_inputs.get("required", {})) + [
            x for x in class_inputs.get("optional", {}) if x not in class_inputs.get("required", {})]
        custom = self.custom.get(class_type, {})
        errors: list[dict[str, Any]] = []
        valid = True

        for x in valid_inputs:
            input_type, input_category, extra_info = self._input_info(class_def, x)
            if x not in inputs:
                if input_category == "required":
                    errors.append({"type": "required_input_missing", "message": "Required input is missing",
                                   "details": f"{x}", "extra_info": {"input_name": x}})
                continue
            val = inputs[x]
            info = [input_type, extra_info]
            if isinstance(val, list):
                if len(val) != 2:
                    errors.append({"type": "bad_linked_input",
                                   "message": "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                                   "details": f"{x}",
                                   "extra_info": {"input_name": x, "input_config": info, "received_value": val}})
                    continue
                o_id = val[0]
                o_class_type = prompt[o_id]["class_type"]
                r = self._return_types(o_class_type)
                received_type = r[val[1]]
                if not validate_node_input(received_type, input_type):
                    errors.append({
                        "type": "return_type_mismatch",
                        "message": "Return type mismatch between linked nodes",
                        "details": f"{x}, received_type({received_type}) mismatch input_type({input_type})",
                        "extra_info": {"input_name": x, "input_config": info,
                                       "received_type": received_type, "linked_node": val}})
                    continue
                try:
                    r = self.validate_inputs(prompt, o_id, validated)
                    if r[0] is False:
                        valid = False
                        continue
                except Exception as ex:  # noqa: BLE001 - mirrors the server
                    typ, _, tb = sys.exc_info()
                    valid = False
                    reasons = [{
                        "type": "exception_during_inner_validation",
                        "message": "Exception when validating inner node",
                        "details": str(ex),
                        "extra_info": {"input_name": x, "input_config": info,
                                       "exception_message": str(ex),
                                       "exception_type": _full_type_name(typ),
                                       "traceback": traceback.format_tb(tb),
                                       "linked_node": val}}]
                    validated[o_id] = (False, reasons, o_id)
                    continue
            else:
                try:  # the server stores converted values back into the prompt
                    if isinstance(val, dict) and "__value__" in val:
                        val = inputs[x] = val["__value__"]
                    if input_type == "INT":
                        val = inputs[x] = int(val)
                    if input_type == "FLOAT":
                        val = inputs[x] = float(val)
                    if input_type == "STRING":
                        val = inputs[x] = str(val)
                    if input_type == "BOOLEAN":
                        val = inputs[x] = bool(val)
                except Exception as ex:  # noqa: BLE001 - mirrors the server
                    errors.append({
                        "type": "invalid_input_type",
                        "message": f"Failed to convert an input value to a {input_type} value",
                        "details": f"{x}, {val}, {ex}",
                        "extra_info": {"input_name": x, "input_config": info,
                                       "received_value": val, "exception_message": str(ex)}})
                    continue
                if x in custom:
                    ret = custom[x](val)
                    if ret is not True:
                        details = f"{x}" if ret is False else f"{x} - {ret}"
                        errors.append({"type": "custom_validation_failed",
                                       "message": "Custom validation failed for node",
                                       "details": details, "extra_info": {"input_name": x}})
                    continue
                if "min" in extra_info and val < extra_info["min"]:
                    errors.append({
                        "type": "value_smaller_than_min",
                        "message": "Value {} smaller than min of {}".format(val, extra_info["min"]),
                        "details": f"{x}",
                        "extra_info": {"input_name": x, "input_config": info, "received_value": val}})
                    continue
                if "max" in extra_info and val > extra_info["max"]:
                    errors.append({
                        "type": "value_bigger_than_max",
                        "message": "Value {} bigger than max of {}".format(val, extra_info["max"]),
                        "details": f"{x}",
                        "extra_info": {"input_name": x, "input_config": info, "received_value": val}})
                    continue
                if isinstance(input_type, list) or input_type == "COMBO":
                    options = extra_info.get("options", []) if input_type == "COMBO" else input_type
                    if val not in options:
                        input_config: Any = info
                        if len(options) > 20:
                            list_info = f"(list of length {len(options)})"
                            input_config = None
                        else:
                            list_info = str(options)
                        errors.append({
                            "type": "value_not_in_list", "message": "Value not in list",
                            "details": f"{x}: '{val}' not in {list_info}",
                            "extra_info": {"input_name": x, "input_config": input_config,
                                           "received_value": val}})
                        continue

        ret = (False, errors, unique_id) if errors or valid is not True else (True, [], unique_id)
        validated[unique_id] = ret
        return ret

    # -- validate_prompt ------------------------------------------------------
    def validate_prompt(self, prompt: dict, partial_targets: list[str] | None = None) -> ValidationResult:
        """(ok, error, good_outputs, node_errors) exactly like the server."""
        outputs: list[str] = []
        for x in prompt:
            node = prompt[x]
            if not isinstance(node, dict) or "class_type" not in node:
                return (False, {"type": "invalid_prompt",
                                "message": "Cannot execute because a node is missing the class_type property.",
                                "details": f"Node ID '#{x}'", "extra_info": {}}, [], {})
            class_type = node["class_type"]
            if not isinstance(class_type, str) or class_type not in self.node_defs:
                return (False, {"type": "invalid_prompt",
                                "message": f"Cannot execute because node {class_type} does not exist.",
                                "details": f"Node ID '#{x}'", "extra_info": {}}, [], {})
            if self._is_output(class_type) and (partial_targets is None or x in partial_targets):
                outputs.append(x)
        if not outputs:
            return (False, {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
                            "details": "", "extra_info": {}}, [], {})

        good_outputs: list[str] = []
        failed: list[tuple[str, list]] = []
        node_errors: dict[str, Any] = {}
        validated: dict[str, tuple] = {}
        for o in outputs:
            try:
                m = self.validate_inputs(prompt, o, validated)
                valid, reasons = m[0], m[1]
            except Exception as ex:  # noqa: BLE001 - mirrors the server
                typ, _, tb = sys.exc_info()
                valid = False
                reasons = [{"type": "exception_during_validation", "message": "Exception when validating node",
                            "details": str(ex),
                            "extra_info": {"exception_type": _full_type_name(typ),
                                           "traceback": traceback.format_tb(tb)}}]
                validated[o] = (False, reasons, o)
            if valid is True:
                good_outputs.append(o)
                continue
            failed.append((o, reasons))
            for node_id, result in validated.items():
                if result[0] is not True and len(result[1]) > 0:
                    if node_id not in node_errors:
                        node_errors[node_id] = {"errors": result[1], "dependent_outputs": [],
                                                "class_type": prompt[node_id]["class_type"]}
                    node_errors[node_id]["dependent_outputs"].append(o)
            log.debug("fake comfy: output %s failed validation", o)

        if not good_outputs:
            details = "\n".join(f"{e['message']}: {e['details']}" for _, errs in failed for e in errs)
            return (False, {"type": "prompt_outputs_failed_validation",
                            "message": "Prompt outputs failed validation",
                            "details": details, "extra_info": {}}, [], node_errors)
        return (True, None, good_outputs, node_errors)
