"""A photo chosen before "See what I get back" is kept across the preview and attached at submit."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from postpurchase.models import ReturnPhoto
from postpurchase.returns.photos import PENDING_MAX_AGE
from tests.returns.test_returns_photos import jpeg_with_exif
from tests.returns.test_returns_portal import _form_page, _returns


def _fields(shop, page: str) -> dict:
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        f"quantity-{shop.tee}": "1",
        f"reason-{shop.tee}": "damaged",
        "resolution": "refund",
    }


def _preview(client, shop) -> tuple[str, str, str]:
    """Preview with a photo; the URL, the page shown and the kept photo's token."""
    url, page = _form_page(client, "en")
    data = _fields(shop, page) | {
        "step": "preview",
        f"photo-{shop.tee}": (io.BytesIO(jpeg_with_exif()), "IMG_0001.JPG"),
    }
    shown = client.post(url, data=data, content_type="multipart/form-data")
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    token = re.search(rf'name="pending-{shop.tee}" value="([^"]+)"', html)
    assert token is not None
    return url, html, token[1]


def _submit(client, shop, url: str, page: str, **extra: str):
    data = _fields(shop, page) | {"step": "submit"} | extra
    return client.post(url, data=data, content_type="multipart/form-data")


def _photos(write) -> list[ReturnPhoto]:
    return write(lambda s: list(s.exec(select(ReturnPhoto)).all()))


def _pending_files(app, shop) -> list[Path]:
    folder = Path(app.instance_path) / "return-photos" / str(shop.brand_id) / "pending"
    return list(folder.iterdir()) if folder.is_dir() else []


def test_photo_chosen_before_the_preview_is_attached_at_submit(app, client, shop, write) -> None:
    url, page, token = _preview(client, shop)
    response = _submit(client, shop, url, page, **{f"pending-{shop.tee}": token})
    assert response.status_code == 302
    (photo,) = _photos(write)
    assert photo.order_line_id == shop.tee and photo.return_id == _returns(app)[0].id
    assert _pending_files(app, shop) == []


def test_preview_shows_the_kept_photo_by_its_name_with_a_remove_option(client, shop) -> None:
    _, page, _ = _preview(client, shop)
    assert "Photo kept: IMG_0001.JPG" in page and f'name="discard-{shop.tee}"' in page


def test_removing_the_kept_photo_asks_for_one_again(app, client, shop) -> None:
    url, page, token = _preview(client, shop)
    response = _submit(
        client, shop, url, page, **{f"pending-{shop.tee}": token, f"discard-{shop.tee}": "1"}
    )
    assert response.status_code == 400 and f"photo-{shop.tee}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_forged_kept_photo_token_is_a_400_naming_the_field(app, client, shop) -> None:
    url, page, token = _preview(client, shop)
    response = _submit(client, shop, url, page, **{f"pending-{shop.tee}": token + "x"})
    assert response.status_code == 400 and f"photo-{shop.tee}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_kept_photo_expires_and_is_swept(app, client, shop, clock) -> None:
    url, page, token = _preview(client, shop)
    clock.now = clock.now + PENDING_MAX_AGE + timedelta(minutes=1)
    response = _submit(client, shop, url, page, **{f"pending-{shop.tee}": token})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    _preview(client, shop)
    assert len(_pending_files(app, shop)) == 1
