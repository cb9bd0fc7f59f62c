"""Flex Messages for the LINE push channel: one bubble per message, built from the message context.

The bubble shows what the email says in a glance: the message's subject as the headline, the
parcel's stage, expected day and time slot (after a missed attempt: the next slots the carrier can
still make, and the pickup point with its address and deadline), the numbers, and buttons to
track the parcel on the brand's page, to ask for redelivery after a missed attempt and to return
delivered items. LINE
notification messages (no friend needed) keep their own template format and stay the fallback.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from flask_babel import force_locale

from postpurchase.customer_view import Stage
from postpurchase.i18n import gettext as _
from postpurchase.web.customer_words import STAGE_LABELS

#: LINE's limit on ``altText`` (what notifications and chat lists show).
ALT_TEXT_MAX = 400
#: LINE's limit on an action's ``label``.
LABEL_MAX = 40
#: LINE's limit on a URI action's ``uri``.
URI_MAX = 1000
LINE_GREEN = "#06C755"
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, "wrap": True, **style}


def _row(label: str, value: str) -> dict[str, Any]:
    return {
        "type": "box",
        "layout": "baseline",
        "spacing": "sm",
        "contents": [
            _text(label, size="sm", color="#6B7280", flex=2),
            _text(value, size="sm", color="#111827", flex=4),
        ],
    }


def _button(label: str, uri: str, *, primary: bool, color: str) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "style": "primary" if primary else "secondary",
        "height": "sm",
        "action": {"type": "uri", "label": label[:LABEL_MAX], "uri": uri},
    }
    if primary:
        button["color"] = color
    return button


def _usable(uri: Any) -> TypeGuard[str]:
    return isinstance(uri, str) and uri.startswith("https://") and len(uri) <= URI_MAX


def flex_message(*, subject: str, context: dict[str, Any]) -> dict[str, Any]:
    """The Flex Message (``type: flex``) for a message rendered with ``context``, in its locale."""
    with force_locale(context["locale"]):
        return _flex(subject, context)


def _flex(subject: str, context: dict[str, Any]) -> dict[str, Any]:
    brand = context.get("brand") or {}
    color = str(brand.get("color")) if _HEX_COLOR.fullmatch(str(brand.get("color"))) else LINE_GREEN
    shipment = context.get("shipment") or {}
    order = context.get("order") or {}
    stage = Stage(shipment["stage"]) if shipment.get("stage") else None
    rows: list[dict[str, Any]] = []
    if stage is not None:
        rows.append(_row(_("Status"), str(STAGE_LABELS[stage])))
    day = shipment.get("expected_day")
    if day:
        rows.append(_row(_("Expected delivery"), day))
        if shipment.get("time_slot"):
            rows.append(_row(_("Time slot"), shipment["time_slot"]))
        if shipment.get("date_note"):
            rows.append(_text(shipment["date_note"], size="xs", color="#6B7280"))
    held = stage in (Stage.attempt_failed, Stage.ready_for_pickup)
    offers = [offer["label"] for offer in shipment.get("next_slots") or []] if held else []
    if offers:
        rows.append(_row(_("Next delivery times"), "\n".join(offers)))
    if held:
        rows += [
            _row(label, shipment[key])
            for label, key in (
                (_("Pickup point"), "pickup_location"),
                (_("Pickup address"), "pickup_address"),
                (_("Held until"), "pickup_until"),
            )
            if shipment.get(key)
        ]
    if order.get("number"):
        rows.append(_row(_("Order number"), order["number"]))
    if shipment.get("tracking_number"):
        rows.append(_row(_("Tracking number"), shipment["tracking_number"]))
    buttons: list[dict[str, Any]] = []
    track = context.get("tracking_page_url") or shipment.get("tracking_url")
    if _usable(track):
        buttons.append(_button(_("Track your parcel"), track, primary=True, color=color))
    if (stage == Stage.attempt_failed or offers) and _usable(shipment.get("redelivery_url")):
        buttons.append(
            _button(_("Arrange redelivery"), shipment["redelivery_url"], primary=False, color=color)
        )
    if stage == Stage.delivered and _usable(context.get("returns_url")):
        buttons.append(
            _button(
                _("Return or exchange an item"), context["returns_url"], primary=False, color=color
            )
        )
    bubble: dict[str, Any] = {
        "type": "bubble",
        "size": "mega",
        "header": {
            "type": "box",
            "layout": "vertical",
            "spacing": "xs",
            "contents": [
                *([_text(brand["name"], size="xs", color="#6B7280")] if brand.get("name") else []),
                _text(subject, size="lg", weight="bold", color="#111827"),
            ],
        },
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": rows}
        if rows
        else None,
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons}
        if buttons
        else None,
    }
    alt = " ".join(part for part in (subject, day, shipment.get("time_slot")) if part)
    return {
        "type": "flex",
        "altText": alt[:ALT_TEXT_MAX],
        "contents": {key: value for key, value in bubble.items() if value is not None},
    }
