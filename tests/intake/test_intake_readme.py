"""The README's intake parts stay true: the sample event is valid, every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from postpurchase.config import PREFIX, SETTINGS
from postpurchase.intake.generic import parse_event

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    table = README.split("<!-- config-table:start -->")[1].split("<!-- config-table:end -->")[0]
    missing = [s.key for s in SETTINGS if f"`{PREFIX}{s.key}`" not in table]
    assert missing == [], "run scripts/config-table --write"


def test_readme_sample_event_is_a_valid_order_created_event() -> None:
    body = re.search(r"cat > event.json <<'JSON'\n(.*?)\nJSON\n", README, re.S).group(1)
    event = parse_event(body.encode())
    assert event.type == "order.created"
