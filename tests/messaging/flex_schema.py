"""A structural validator for LINE Flex Messages, from the Messaging API reference's rules.

It checks what the reference states for the parts we use and the common mistakes: a message is
``{"type": "flex", "altText": 1–400 chars, "contents": bubble | carousel}``; a carousel holds 1–12
bubbles; a bubble's blocks are boxes; boxes have a known ``layout`` and components; texts are
non-empty; sizes, weights, styles and colours come from the documented sets; actions have a known
type, a label of at most 40 characters and, for ``uri``, an http(s)/line/tel URI of at most 1000
characters; a bubble holds at most 10 buttons (our own rule, below LINE's size limit).
:func:`problems` returns every violation as ``path: reason``; an empty list means valid.
"""

from __future__ import annotations

import re
from typing import Any

ALT_TEXT_MAX = 400
CAROUSEL_MAX = 12
BUTTONS_MAX = 10
LABEL_MAX = 40
URI_MAX = 1000

BUBBLE_SIZES = {"nano", "micro", "deca", "hecto", "kilo", "mega", "giga"}
BLOCKS = ("header", "hero", "body", "footer")
LAYOUTS = {"horizontal", "vertical", "baseline"}
TEXT_SIZES = {"xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl"}
SPACINGS = {"none", "xs", "sm", "md", "lg", "xl", "xxl"}
WEIGHTS = {"regular", "bold"}
BUTTON_STYLES = {"primary", "secondary", "link"}
BUTTON_HEIGHTS = {"sm", "md"}
COMPONENTS = {"box", "button", "image", "video", "icon", "text", "span", "separator", "filler"}
#: Components a baseline box may hold.
BASELINE_COMPONENTS = {"icon", "text", "filler", "span"}
ACTIONS = {"postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location"}
_COLOR = re.compile(r"#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")
_URI = re.compile(r"(https?|line|tel)://?\S+")


def _length(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high


def _action(action: Any, path: str, found: list[str]) -> None:
    if not isinstance(action, dict) or action.get("type") not in ACTIONS:
        found.append(f"{path}: unknown action type")
        return
    if "label" in action and not _length(action["label"], 1, LABEL_MAX):
        found.append(f"{path}.label: 1–{LABEL_MAX} characters")
    if action["type"] == "uri":
        uri = action.get("uri")
        if not _length(uri, 1, URI_MAX) or not _URI.fullmatch(uri):
            found.append(f"{path}.uri: an http(s), line or tel URI of at most {URI_MAX} characters")


def _component(node: Any, path: str, found: list[str], parent_layout: str | None) -> int:
    """Check one component; the number of buttons in it."""
    if not isinstance(node, dict) or node.get("type") not in COMPONENTS:
        found.append(f"{path}: unknown component")
        return 0
    kind = node["type"]
    if parent_layout == "baseline" and kind not in BASELINE_COMPONENTS:
        found.append(f"{path}: a baseline box cannot hold a {kind}")
    for key in ("color", "backgroundColor", "borderColor"):
        if key in node and not _COLOR.fullmatch(str(node[key])):
            found.append(f"{path}.{key}: #RRGGBB or #RRGGBBAA")
    if "spacing" in node and node["spacing"] not in SPACINGS:
        found.append(f"{path}.spacing: unknown keyword")
    if "flex" in node and (not isinstance(node["flex"], int) or node["flex"] < 0):
        found.append(f"{path}.flex: an integer ≥ 0")
    if "action" in node:
        _action(node["action"], f"{path}.action", found)
    if kind == "box":
        return _box(node, path, found)
    if kind == "text":
        if not _length(node.get("text"), 1, 2000) and not node.get("contents"):
            found.append(f"{path}.text: required, not empty")
        if "size" in node and node["size"] not in TEXT_SIZES:
            found.append(f"{path}.size: unknown keyword")
        if "weight" in node and node["weight"] not in WEIGHTS:
            found.append(f"{path}.weight: regular or bold")
    if kind == "button":
        if "action" not in node:
            found.append(f"{path}.action: required")
        if node.get("style", "link") not in BUTTON_STYLES:
            found.append(f"{path}.style: primary, secondary or link")
        if node.get("height", "md") not in BUTTON_HEIGHTS:
            found.append(f"{path}.height: sm or md")
        return 1
    return 0


def _box(node: dict[str, Any], path: str, found: list[str]) -> int:
    if node.get("layout") not in LAYOUTS:
        found.append(f"{path}.layout: horizontal, vertical or baseline")
    contents = node.get("contents")
    if not isinstance(contents, list):
        found.append(f"{path}.contents: a list of components")
        return 0
    return sum(
        _component(child, f"{path}.contents[{i}]", found, node.get("layout"))
        for i, child in enumerate(contents)
    )


def _bubble(node: Any, path: str, found: list[str]) -> None:
    if not isinstance(node, dict) or node.get("type") != "bubble":
        found.append(f"{path}: a bubble")
        return
    if node.get("size", "mega") not in BUBBLE_SIZES:
        found.append(f"{path}.size: unknown bubble size")
    if not any(block in node for block in BLOCKS):
        found.append(f"{path}: a bubble needs at least one block")
    buttons = 0
    for block in BLOCKS:
        if block not in node:
            continue
        value = node[block]
        if block == "hero" and isinstance(value, dict) and value.get("type") != "box":
            buttons += _component(value, f"{path}.hero", found, None)
        elif not isinstance(value, dict) or value.get("type") != "box":
            found.append(f"{path}.{block}: a box")
        else:
            buttons += _box(value, f"{path}.{block}", found)
    if buttons > BUTTONS_MAX:
        found.append(f"{path}: at most {BUTTONS_MAX} buttons")
    unknown = set(node) - {"type", "size", "direction", "styles", "action", *BLOCKS}
    if unknown:
        found.append(f"{path}: unknown keys {sorted(unknown)}")


def problems(message: Any) -> list[str]:
    """Every rule ``message`` breaks; [] for a valid Flex Message."""
    found: list[str] = []
    if not isinstance(message, dict) or message.get("type") != "flex":
        return ["$: a message of type flex"]
    if not _length(message.get("altText"), 1, ALT_TEXT_MAX):
        found.append(f"$.altText: 1–{ALT_TEXT_MAX} characters")
    contents = message.get("contents")
    if isinstance(contents, dict) and contents.get("type") == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= CAROUSEL_MAX:
            found.append(f"$.contents.contents: 1–{CAROUSEL_MAX} bubbles")
        else:
            for i, bubble in enumerate(bubbles):
                _bubble(bubble, f"$.contents.contents[{i}]", found)
    else:
        _bubble(contents, "$.contents", found)
    return found
