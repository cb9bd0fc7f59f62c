"""Photos a customer attaches to a return: checked, cleaned, stored outside the web root, and shown
only to the brand's staff through short-lived signed links.

* The type is sniffed from the bytes (Pillow opens and verifies the image), never taken from the
  file name or the browser's content type; only JPEG, PNG and WebP are accepted.
* Every photo is decoded and encoded again from its pixels, turned upright first: nothing of the
  original file's metadata survives (EXIF with GPS position, camera serial, ICC profile, comments).
* Files live under the instance folder (``return-photos/<brand id>/<random name>``), which the app
  never serves as static files; the merchant route reads them after checking the signed token and
  the signed-in brand.

Which reasons need a photo is the brand's ``returns.photo_reasons`` setting.

A photo chosen before "See what I get back" is kept as a *pending* photo: cleaned and written under
``return-photos/<brand id>/pending/`` right away, and named in the form by a signed token bound to the
brand, the order and the line, so the customer need not pick it again. Submitting attaches it; an
unclaimed one is deleted once older than :data:`PENDING_MAX_AGE` (its token stops working then too).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from flask_babel import LazyString
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlmodel import Session, col, select

from postpurchase.i18n import lazy_gettext as _l
from postpurchase.models import ReturnPhoto

MAX_PHOTO_BYTES = 8 * 1024 * 1024
#: Decoding a small file can still ask for gigabytes (a "decompression bomb"): cap the pixels.
MAX_PIXELS = 40_000_000
#: Formats accepted, by what Pillow recognises in the bytes.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
#: A request may carry a photo per line: the portal's body limit while it accepts photos.
MAX_REQUEST_BYTES = 4 * MAX_PHOTO_BYTES
FOLDER = "return-photos"
PHOTO_LINK_SALT = "postpurchase.return-photo"
#: Signed photo links last this long: enough to look, too short to pass around.
TOKEN_MAX_AGE_SECONDS = 3600
PENDING_FOLDER = "pending"
PENDING_SALT = "postpurchase.return-photo-pending"
#: A kept photo waits this long for the customer to submit the return.
PENDING_MAX_AGE = timedelta(hours=2)
#: The customer's file name is shown back to them, shortened.
SHOWN_NAME_LENGTH = 60
#: A pending file's name: the second it was kept, then random hex (the sweep reads the time from it).
PENDING_NAME = re.compile(r"([0-9]{1,12})-([0-9a-f]{32})\.(jpg|png)", re.ASCII)
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


class PhotoError(ValueError):
    """A photo that cannot be accepted; ``field`` names the form field, ``message`` says why."""

    def __init__(self, field: str, message: LazyString | str) -> None:
        super().__init__(field)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    content_type: str
    extension: str


def clean_photo(field: str, data: bytes) -> CleanPhoto:
    """The photo in ``data`` re-encoded from its pixels, upright and without any metadata; raises
    :class:`PhotoError` for what is too large, not an image, or not one of the accepted formats."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(
            field,
            _l(
                "%(field)s is too large: at most %(size)s MB.",
                field=field,
                size=MAX_PHOTO_BYTES // (1024 * 1024),
            ),
        )
    try:
        with Image.open(BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            probe.verify()
        if kind not in ACCEPTED_FORMATS or width * height > MAX_PIXELS:
            raise PhotoError(field, _l("%(field)s must be a JPEG, PNG or WebP photo.", field=field))
        with Image.open(BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image)
            transparent = upright.mode in ("RGBA", "LA") or "transparency" in upright.info
            pixels = upright.convert("RGBA" if transparent else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoError(
            field, _l("%(field)s must be a JPEG, PNG or WebP photo.", field=field)
        ) from None
    # Encoders copy some of ``info`` (ICC profile, EXIF, text chunks): empty it, pixels only remain.
    bare = pixels
    bare.info.clear()
    out = BytesIO()
    if transparent:
        bare.save(out, format="PNG", optimize=True)
        return CleanPhoto(out.getvalue(), "image/png", "png")
    bare.save(out, format="JPEG", quality=88)
    return CleanPhoto(out.getvalue(), "image/jpeg", "jpg")


def store_photo(
    *,
    session: Session,
    instance_path: str | Path,
    brand_id: int,
    return_id: int,
    order_line_id: int | None,
    photo: CleanPhoto,
    now: datetime,
) -> ReturnPhoto:
    """Write ``photo`` under the instance folder and record it against the return."""
    folder = Path(instance_path) / FOLDER / str(brand_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{photo.extension}"
    (folder / name).write_bytes(photo.data)
    row = ReturnPhoto(
        brand_id=brand_id,
        return_id=return_id,
        order_line_id=order_line_id,
        filename=name,
        content_type=photo.content_type,
        size=len(photo.data),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def photo_path(instance_path: str | Path, photo: ReturnPhoto) -> Path:
    return Path(instance_path) / FOLDER / str(photo.brand_id) / photo.filename


def photo_token(secret_key: str, brand_id: int, photo_id: int) -> str:
    """A signed link token for one photo, for the brand's staff (checked with the signed-in brand)."""
    return URLSafeTimedSerializer(secret_key, salt=PHOTO_LINK_SALT).dumps([brand_id, photo_id])


def photo_from_token(
    secret_key: str, token: str, brand_id: int, max_age: int = TOKEN_MAX_AGE_SECONDS
) -> int | None:
    """The photo id a token grants to this brand; None when forged, expired or for another brand."""
    try:
        token_brand, photo_id = URLSafeTimedSerializer(secret_key, salt=PHOTO_LINK_SALT).loads(
            token, max_age=max_age
        )
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    return int(photo_id) if token_brand == brand_id else None


def photos_by_return(
    *, session: Session, brand_id: int, return_ids: Sequence[int]
) -> dict[int, list[ReturnPhoto]]:
    """The brand's photos of these returns, oldest first."""
    found: dict[int, list[ReturnPhoto]] = {}
    if return_ids:
        for photo in session.exec(
            select(ReturnPhoto)
            .where(ReturnPhoto.brand_id == brand_id, col(ReturnPhoto.return_id).in_(return_ids))
            .order_by(col(ReturnPhoto.id))
        ).all():
            found.setdefault(photo.return_id, []).append(photo)
    return found


@dataclass(frozen=True)
class PendingPhoto:
    """A photo kept across the preview for one order line, not yet attached to a return."""

    line_id: int
    #: Signed; carried in the form as ``pending-<line id>``.
    token: str
    #: What the customer called the file, to show which photo is kept.
    shown_name: str
    name: str


def _pending_folder(instance_path: str | Path, brand_id: int) -> Path:
    return Path(instance_path) / FOLDER / str(brand_id) / PENDING_FOLDER


def keep_pending(
    *,
    secret_key: str,
    instance_path: str | Path,
    brand_id: int,
    order_id: int,
    line_id: int,
    photo: CleanPhoto,
    shown_name: str,
    now: datetime,
) -> PendingPhoto:
    """Write the cleaned ``photo`` as pending for this order line (sweeping expired ones first)."""
    expire_pending(instance_path=instance_path, brand_id=brand_id, now=now)
    folder = _pending_folder(instance_path, brand_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{int(now.timestamp())}-{secrets.token_hex(16)}.{photo.extension}"
    (folder / name).write_bytes(photo.data)
    shown = Path(shown_name.replace("\\", "/")).name[:SHOWN_NAME_LENGTH] or name
    token = URLSafeSerializer(secret_key, salt=PENDING_SALT).dumps(
        [brand_id, order_id, line_id, name, shown]
    )
    return PendingPhoto(line_id=line_id, token=token, shown_name=shown, name=name)


def pending_from_token(
    *,
    secret_key: str,
    instance_path: str | Path,
    token: str,
    brand_id: int,
    order_id: int,
    line_id: int,
    now: datetime,
) -> PendingPhoto | None:
    """The pending photo ``token`` names for this brand, order and line, if its file is still
    there and young enough; None when forged, for another order or line, or expired."""
    try:
        token_brand, token_order, token_line, name, shown = URLSafeSerializer(
            secret_key, salt=PENDING_SALT
        ).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if (token_brand, token_order, token_line) != (brand_id, order_id, line_id):
        return None
    match = PENDING_NAME.fullmatch(str(name))
    if match is None or _expired(int(match[1]), now):
        return None
    if not (_pending_folder(instance_path, brand_id) / name).is_file():
        return None
    return PendingPhoto(line_id=line_id, token=token, shown_name=str(shown), name=name)


def kept_photos(
    *,
    secret_key: str,
    instance_path: str | Path,
    tokens: dict[int, str],
    brand_id: int,
    order_id: int,
    now: datetime,
) -> dict[int, PendingPhoto]:
    """The pending photos the form's ``pending-<line id>`` tokens name; a token that no longer
    works is a :class:`PhotoError` asking for the photo again."""
    kept: dict[int, PendingPhoto] = {}
    for line_id, token in tokens.items():
        found = pending_from_token(
            secret_key=secret_key,
            instance_path=instance_path,
            token=token,
            brand_id=brand_id,
            order_id=order_id,
            line_id=line_id,
            now=now,
        )
        if found is None:
            field = f"photo-{line_id}"
            raise PhotoError(
                field,
                _l("%(field)s: the photo kept earlier has expired; choose it again.", field=field),
            )
        kept[line_id] = found
    return kept


def read_pending(*, instance_path: str | Path, brand_id: int, pending: PendingPhoto) -> CleanPhoto:
    """The pending photo's cleaned bytes, to store with the return."""
    extension = pending.name.rsplit(".", 1)[1]
    data = (_pending_folder(instance_path, brand_id) / pending.name).read_bytes()
    return CleanPhoto(data, CONTENT_TYPES[extension], extension)


def drop_pending(*, instance_path: str | Path, brand_id: int, pending: PendingPhoto) -> None:
    """Delete a pending photo's file once the return holds its copy."""
    (_pending_folder(instance_path, brand_id) / pending.name).unlink(missing_ok=True)


def expire_pending(*, instance_path: str | Path, brand_id: int, now: datetime) -> int:
    """Delete the brand's pending photos older than :data:`PENDING_MAX_AGE`; how many went."""
    folder = _pending_folder(instance_path, brand_id)
    gone = 0
    if folder.is_dir():
        for path in folder.iterdir():
            match = PENDING_NAME.fullmatch(path.name)
            if match is None or _expired(int(match[1]), now):
                path.unlink(missing_ok=True)
                gone += 1
    return gone


def _expired(kept_at: int, now: datetime) -> bool:
    return now - datetime.fromtimestamp(kept_at, tz=UTC) > PENDING_MAX_AGE
