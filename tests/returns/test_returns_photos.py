"""Return photos: sniffed, size-limited, stripped of metadata, stored outside the web root, shown to
the brand's staff only through signed links."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from postpurchase.lookup import return_token
from postpurchase.models import ReturnPhoto
from postpurchase.returns.photos import (
    MAX_PHOTO_BYTES,
    PhotoError,
    clean_photo,
    photo_token,
)
from postpurchase.web.merchant import add_merchant_user
from tests.returns.test_returns_merchant import _csrf
from tests.returns.test_returns_portal import _form_page, _returns

SECRET_TEXT = "GPS 35.6586N 139.7454E"


def jpeg_with_exif(size: tuple[int, int] = (40, 20), orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010E] = SECRET_TEXT  # ImageDescription
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_photo_loses_its_exif() -> None:
    original = jpeg_with_exif()
    assert SECRET_TEXT.encode() in original
    cleaned = clean_photo("photo-1", original)
    assert SECRET_TEXT.encode() not in cleaned.data
    assert dict(Image.open(io.BytesIO(cleaned.data)).getexif()) == {}
    assert cleaned.content_type == "image/jpeg"


def test_photo_is_turned_upright_before_its_orientation_tag_goes() -> None:
    cleaned = clean_photo("photo-1", jpeg_with_exif((40, 20), orientation=6))
    assert Image.open(io.BytesIO(cleaned.data)).size == (20, 40)


def test_transparent_png_stays_a_png() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, format="PNG")
    assert clean_photo("photo-1", out.getvalue()).content_type == "image/png"


@pytest.mark.parametrize(
    "data",
    [b"<?php echo 1; ?>", b"\xff\xd8\xff\xe0 not really a jpeg", b"GIF89a" + b"\x00" * 20],
)
def test_what_is_not_a_jpeg_png_or_webp_is_refused_naming_the_field(data: bytes) -> None:
    with pytest.raises(PhotoError, match="photo-7"):
        clean_photo("photo-7", data)


def test_gif_is_refused_even_when_it_is_a_real_image() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="GIF")
    with pytest.raises(PhotoError):
        clean_photo("photo-1", out.getvalue())


def test_photo_over_the_size_limit_is_refused() -> None:
    with pytest.raises(PhotoError, match="too large"):
        clean_photo("photo-1", b"\xff" * (MAX_PHOTO_BYTES + 1))


def _post_damaged(client, shop, photo: bytes | None, lang: str = "en"):
    url, page = _form_page(client, lang)
    data = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        f"quantity-{shop.tee}": "1",
        f"reason-{shop.tee}": "damaged",
        "resolution": "refund",
    }
    if photo is not None:
        data[f"photo-{shop.tee}"] = (io.BytesIO(photo), "IMG_0001.JPG")
    return client.post(url, data=data, content_type="multipart/form-data")


def test_damaged_item_without_a_photo_is_a_400_naming_the_field(app, client, shop) -> None:
    response = _post_damaged(client, shop, None)
    assert response.status_code == 400
    assert f"photo-{shop.tee}" in response.get_data(as_text=True)
    assert _returns(app) == []


def test_photo_for_a_line_not_returned_is_a_400(app, client, shop) -> None:
    url, page = _form_page(client, "en")
    response = client.post(
        url,
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            f"quantity-{shop.tee}": "1",
            f"reason-{shop.tee}": "size_too_small",
            "resolution": "refund",
            f"photo-{shop.food}": (io.BytesIO(jpeg_with_exif()), "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and f"photo-{shop.food}" in response.get_data(as_text=True)


def test_photo_is_stored_clean_under_the_instance_folder(app, client, shop, write) -> None:
    assert _post_damaged(client, shop, jpeg_with_exif()).status_code == 302
    (photo,) = write(lambda s: s.exec(select(ReturnPhoto)).all())
    path = Path(app.instance_path) / "return-photos" / str(shop.brand_id) / photo.filename
    assert path.is_file() and SECRET_TEXT.encode() not in path.read_bytes()
    assert "IMG_0001" not in photo.filename and photo.order_line_id == shop.tee


def _sign_in(client, write, brand_id: int, email: str) -> None:
    write(lambda s: add_merchant_user(session=s, brand_id=brand_id, email=email, password="pw"))
    client.post(
        "/merchant/login",
        data={"csrf_token": _csrf(client, "/merchant/login"), "email": email, "password": "pw"},
    )


def test_brand_staff_see_the_photo_through_a_signed_link(app, client, shop, write) -> None:
    _post_damaged(client, shop, jpeg_with_exif())
    _sign_in(client, write, shop.brand_id, "ops@acme.example")
    page = client.get("/merchant/returns/queue/").get_data(as_text=True)
    link = re.search(r'href="(/merchant/returns/photos/[^"]+)"', page)
    assert link is not None
    response = client.get(link[1])
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_photo_link_of_another_brand_is_a_404(app, client, shop, write, make_brand) -> None:
    _post_damaged(client, shop, jpeg_with_exif())
    (photo,) = write(lambda s: s.exec(select(ReturnPhoto)).all())
    other = make_brand("other")
    _sign_in(client, write, other.brand_id, "ops@other.example")
    secret = str(app.config["SECRET_KEY"])
    # Neither A's token nor one minted for B's own brand id opens A's photo.
    for token in (
        photo_token(secret, shop.brand_id, photo.id),
        photo_token(secret, other.brand_id, photo.id),
    ):
        assert client.get(f"/merchant/returns/photos/{token}").status_code == 404


def test_photo_needs_a_signed_token_and_a_signed_in_merchant(app, client, shop, write) -> None:
    _post_damaged(client, shop, jpeg_with_exif())
    (photo,) = write(lambda s: s.exec(select(ReturnPhoto)).all())
    token = photo_token(str(app.config["SECRET_KEY"]), shop.brand_id, photo.id)
    assert client.get(f"/merchant/returns/photos/{token}").status_code == 302  # to sign-in
    _sign_in(client, write, shop.brand_id, "ops@acme.example")
    assert client.get(f"/merchant/returns/photos/{photo.id}").status_code == 404
    forged = return_token(str(app.config["SECRET_KEY"]), shop.brand_id, photo.id)
    assert client.get(f"/merchant/returns/photos/{forged}").status_code == 404
