"""The printed return label: both addresses complete, the RMA as Code 128 and QR that decode back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlmodel import select

from postpurchase.models import FulfillmentCentre, Order
from tests.returns.test_returns_portal import _returns, _submit

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots" / "returns"


@pytest.fixture
def addresses(shop, write) -> None:
    def fill(s) -> None:
        centre = s.exec(
            select(FulfillmentCentre).where(FulfillmentCentre.brand_id == shop.brand_id)
        ).one()
        centre.city, centre.street, centre.phone = "江東区", "豊洲1-2-3 Acmeビル4F", "03-1234-5678"
        order = s.get(Order, shop.order_id)
        order.shipping_name, order.shipping_region, order.shipping_city = (
            "山田 花子",
            "東京都",
            "渋谷区",
        )
        order.phone = "090-1111-2222"
        s.add_all([centre, order])

    write(fill)


def _label(client, shop, lang: str) -> bytes:
    confirmation = _submit(client, shop, lang=lang).headers["Location"]
    response = client.get(confirmation.split("?")[0] + f"/label.pdf?lang={lang}")
    assert response.status_code == 200
    return response.data


def _render(pdf: bytes, tmp_path: Path, name: str) -> Image.Image:
    """The first page at 300 dpi, as a scanner would see it; a copy is kept to look at."""
    (tmp_path / "label.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "300",
            "-png",
            "-singlefile",
            str(tmp_path / "label.pdf"),
            str(tmp_path / "label"),
        ],
        check=True,
    )
    image = Image.open(tmp_path / "label.png")
    SHOTS.mkdir(parents=True, exist_ok=True)
    image.save(SHOTS / f"{name}.png")
    return image


def _text(pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "text.pdf").write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "text.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_code128_and_qr_decode_to_the_rma(app, client, shop, addresses, tmp_path) -> None:
    image = _render(_label(client, shop, "ja"), tmp_path, "label-ja")
    (rma,) = _returns(app)
    found = {
        (code.format, code.text)
        for code in zxingcpp.read_barcodes(
            image, formats=[zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.QRCode]
        )
    }
    assert found == {
        (zxingcpp.BarcodeFormat.Code128, rma.rma_number),
        (zxingcpp.BarcodeFormat.QRCode, rma.rma_number),
    }


def test_label_carries_both_addresses_complete(client, shop, addresses, tmp_path) -> None:
    text = _text(_label(client, shop, "ja"), tmp_path)
    for part in ("135-0061", "東京都", "江東区", "豊洲1-2-3", "03-1234-5678", "東京物流センター"):
        assert part in text
    for part in ("150-0001", "渋谷区", "山田 花子", "090-1111-2222"):
        assert part in text


def test_label_says_who_pays_and_the_handover_deadline(client, shop, addresses, tmp_path) -> None:
    # Issued on the pinned day (Nov 20, 2026) → hand over within 14 days: Dec 4.
    text = _text(_label(client, shop, "en"), tmp_path)
    assert "Cash on delivery (着払い)" in text and "Hand it over by Fri, Dec 4" in text


def test_label_instructions_are_in_japanese_and_english(client, shop, addresses, tmp_path) -> None:
    text = _text(_label(client, shop, "en"), tmp_path)
    assert "How to send it back" in text and "Hand the parcel to the carrier by Fri, Dec 4" in text
    assert "12月4日(金)" in text


def test_label_lists_the_items_returned(client, shop, addresses, tmp_path) -> None:
    text = _text(_label(client, shop, "ja"), tmp_path)
    assert "Tシャツ M" in text and "TEE-M" in text


def test_label_issue_moment_is_recorded(app, client, shop, addresses) -> None:
    _submit(client, shop)
    (rma,) = _returns(app)
    assert rma.attributes["label_issued_at"].startswith("2026-11-20")
