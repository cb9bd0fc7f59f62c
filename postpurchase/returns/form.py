"""The customer portal's return form, read strictly: one spelling per field, nothing unknown, nothing twice.

Fields: ``quantity-<line id>``, ``reason-<id>``, ``comment-<id>`` and ``exchange-<id>`` per order line
(and ``pending-<id>``, ``discard-<id>`` for a photo kept across the preview, see :func:`pending_tokens`),
then ``resolution``, an optional ``comment`` and the ``csrf_token``. A line id written another way
(``quantity-03``, ``quantity-+3``) or a field sent twice would let one line be counted more than once,
so anything but the canonical spelling is refused with a :class:`FormError` naming the field.

This checks what the form offered; :func:`postpurchase.returns.operations.create_return` checks again,
against what is left to return, inside the transaction that opens the RMA.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from flask_babel import LazyString
from werkzeug.datastructures import FileStorage, MultiDict

from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import OrderLine
from postpurchase.models.enums import ReturnResolution
from postpurchase.models.types import id_of
from postpurchase.returns.operations import WantedLine
from postpurchase.returns.policy import ReturnPolicy, is_exchange_for

#: Per-line fields: the kind, then the line id in plain decimal without sign or leading zero.
LINE_FIELD = re.compile(
    r"(quantity|reason|comment|exchange|pending|discard)-([1-9][0-9]{0,17})", re.ASCII
)
#: Fields of the form as a whole.
FORM_FIELDS = frozenset({"csrf_token", "resolution", "comment", "step"})
#: ``step``: which button was pressed; ``preview`` shows the money before anything is opened.
STEPS = frozenset({"preview", "submit"})
MAX_QUANTITY = 9999
QUANTITY = re.compile(r"0|[1-9][0-9]{0,3}", re.ASCII)
#: As the form's ``maxlength``.
MAX_COMMENT_LENGTH = 1000
#: Field names are echoed in errors; a forged one may be long.
SHOWN_FIELD_LENGTH = 80


class FormError(ValueError):
    """A field the form did not offer, or offered otherwise; ``field`` names it, ``message`` says why, translated."""

    def __init__(self, field: str, message: LazyString | str) -> None:
        super().__init__(field)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class ReturnForm:
    """What the customer asked for: the lines with a quantity above zero, the resolution, a comment."""

    lines: list[WantedLine]
    resolution: ReturnResolution
    comment: str | None
    #: Only show what the return would bring (no RMA yet).
    preview_only: bool = False


def parse_return_form(
    form: MultiDict[str, str], *, lines: Sequence[OrderLine], policy: ReturnPolicy
) -> ReturnForm:
    """Read the posted return form for an order with ``lines`` under ``policy``; raise :class:`FormError`
    for an unknown, repeated or malformed field, a line of another order, or a choice the policy does not offer."""
    by_id = {line.id: line for line in lines}
    fields: dict[int, dict[str, str]] = {}
    for key in form:
        values = form.getlist(key)
        if len(values) != 1:
            raise FormError(key, _l("%(field)s was sent more than once.", field=_shown(key)))
        if key in FORM_FIELDS:
            continue
        match = LINE_FIELD.fullmatch(key)
        if match is None:
            raise FormError(key, _l("%(field)s is not a field of this form.", field=_shown(key)))
        if int(match[2]) not in by_id:
            raise FormError(
                key,
                _l("%(field)s names an item that is not part of this order.", field=_shown(key)),
            )
        fields.setdefault(int(match[2]), {})[match[1]] = values[0]
    resolution = _resolution(form.get("resolution"), policy)
    wanted = [
        item
        for line in lines
        if line.id in fields
        if (item := _line(line, fields[line.id], resolution, policy)) is not None
    ]
    step = form.get("step", "submit")
    if step not in STEPS:
        raise FormError("step", _l("%(field)s must be one of the choices offered.", field="step"))
    return ReturnForm(
        lines=wanted,
        resolution=resolution,
        comment=_comment("comment", form.get("comment")),
        preview_only=step == "preview",
    )


def _line(
    line: OrderLine, given: dict[str, str], resolution: ReturnResolution, policy: ReturnPolicy
) -> WantedLine | None:
    quantity = _quantity(f"quantity-{line.id}", given.get("quantity", "0"))
    # Nothing is preselected: an empty reason is no choice yet.
    reason = given.get("reason") or None
    # A line not returned may leave its reason out; a line returned needs one offered for its kind.
    field = f"reason-{line.id}"
    if reason is None and quantity > 0:
        raise FormError(
            field,
            _l("%(field)s: choose why you are returning %(item)s.", field=field, item=line.name),
        )
    if reason is not None and reason not in policy.reasons_for(line.category):
        raise FormError(field, _l("%(field)s must be one of the reasons offered.", field=field))
    comment = _comment(f"comment-{line.id}", given.get("comment"))
    exchange = given.get("exchange")
    if exchange is not None:
        field = f"exchange-{line.id}"
        if ReturnResolution.exchange not in policy.resolutions:
            raise FormError(
                field, _l("%(field)s: this shop does not offer exchanges.", field=field)
            )
        # Other products are checked against the brand's rule and the stock when the RMA opens.
        if not policy.part.exchange.other_products and not is_exchange_for(line.sku, exchange):
            raise FormError(
                field,
                _l(
                    "%(field)s: only another size of the same item can be sent in exchange.",
                    field=field,
                ),
            )
    # A returned line without a reason was refused above.
    if quantity == 0 or reason is None:
        return None
    return WantedLine(
        order_line_id=id_of(line),
        quantity=quantity,
        reason_code=reason,
        comment=comment,
        exchange_sku=exchange if resolution == ReturnResolution.exchange else None,
    )


#: File fields: ``photo-<line id>``, spelled like the other per-line fields.
PHOTO_FIELD = re.compile(r"photo-([1-9][0-9]{0,17})", re.ASCII)


def pending_tokens(form: MultiDict[str, str], *, wanted: ReturnForm) -> dict[int, str]:
    """The signed tokens of photos kept across the preview (``pending-<line id>``) for the lines
    returned, without those the customer ticked to remove (``discard-<line id>``); the form was
    read by :func:`parse_return_form` first, so each field is single and names a line of the order."""
    return {
        item.order_line_id: token
        for item in wanted.lines
        if (token := form.get(f"pending-{item.order_line_id}"))
        if not form.get(f"discard-{item.order_line_id}")
    }


def parse_photos(
    files: MultiDict[str, FileStorage],
    *,
    wanted: ReturnForm,
    photo_reasons: frozenset[str],
    kept: Collection[int] = (),
    required: bool = True,
) -> dict[int, bytes]:
    """The photo bytes per returned line; a photo for a line not returned, a field sent twice or,
    when ``required``, a missing photo where the reason needs one (and none is ``kept`` for the
    line from the preview) is a :class:`FormError` naming the field."""
    returned = {item.order_line_id: item for item in wanted.lines}
    found: dict[int, bytes] = {}
    for key in files:
        uploads = [upload for upload in files.getlist(key) if upload.filename]
        match = PHOTO_FIELD.fullmatch(key)
        if match is None:
            raise FormError(key, _l("%(field)s is not a field of this form.", field=_shown(key)))
        if len(uploads) > 1:
            raise FormError(key, _l("%(field)s was sent more than once.", field=_shown(key)))
        if not uploads:
            continue
        if int(match[1]) not in returned:
            raise FormError(
                key, _l("%(field)s is for an item you are not returning.", field=_shown(key))
            )
        found[int(match[1])] = uploads[0].read()
    for line_id, item in returned.items():
        if not required or line_id in kept:
            continue
        if item.reason_code in photo_reasons and line_id not in found:
            field = f"photo-{line_id}"
            raise FormError(
                field, _l("%(field)s: add a photo that shows the problem.", field=field)
            )
    return found


def _quantity(field: str, raw: str) -> int:
    if QUANTITY.fullmatch(raw) is None:
        raise FormError(
            field,
            _l(
                "%(field)s must be a whole number from 0 to %(max)s.", field=field, max=MAX_QUANTITY
            ),
        )
    return int(raw)


def _resolution(raw: str | None, policy: ReturnPolicy) -> ReturnResolution:
    resolution = next((choice for choice in policy.resolutions if choice.value == raw), None)
    if resolution is None:
        raise FormError(
            "resolution", _l("%(field)s must be one of the choices offered.", field="resolution")
        )
    return resolution


def _comment(field: str, raw: str | None) -> str | None:
    text = (raw or "").strip()
    if len(text) > MAX_COMMENT_LENGTH:
        raise FormError(
            field,
            _l(
                "%(field)s is too long: at most %(max)s characters.",
                field=field,
                max=MAX_COMMENT_LENGTH,
            ),
        )
    return text or None


def _shown(field: str) -> str:
    return field if len(field) <= SHOWN_FIELD_LENGTH else field[:SHOWN_FIELD_LENGTH] + "…"
