"""``carriers`` stands alone (no Flask, no database) and its CLI works both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from carriers.cli import carriers
from tests.conftest import CONFORMANCE

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"

BLOCKED_IMPORT = """
import sys
for name in ("flask", "sqlmodel", "sqlalchemy"):
    sys.modules[name] = None  # any import of these now raises ImportError
import carriers, carriers.registry, carriers.cli
codes = carriers.registry.codes()
for code in codes:
    carriers.registry.create(code)
assert not any(m.split(".")[0] in ("flask", "sqlmodel", "sqlalchemy") and sys.modules[m] is not None
               for m in sys.modules), "a web/db module was imported"
print(",".join(codes))
"""


def test_carriers_import_without_flask_or_sqlmodel() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {"yamato", "ups"} <= set(done.stdout.strip().split(","))


def test_cli_lists_adapters_as_json() -> None:
    result = CliRunner().invoke(carriers, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["code"]: row for row in json.loads(result.output)}
    assert rows["yamato"]["max_batch"] == 10
    assert rows["fedex"]["credential_keys"] == ["client_id", "client_secret"]
    assert rows["aftership"]["supports_webhooks"] is True


def test_cli_lists_adapters_as_a_table() -> None:
    result = CliRunner().invoke(carriers, ["list"])
    assert result.exit_code == 0
    assert any(line.startswith("canadapost") for line in result.output.splitlines())


def test_cli_parses_a_saved_response_to_normalized_json() -> None:
    path = CONFORMANCE / "carrier_tracking" / "fedex_track_api_exception_then_delivered.json"
    result = CliRunner().invoke(carriers, ["parse", "fedex", str(path)])
    assert result.exit_code == 0, result.output
    [parsed] = json.loads(result.output)
    assert parsed["status"] == "delivered"
    assert parsed["events"][0] | {"status": "info_received", "code": "OC"} == parsed["events"][0]


def test_cli_parses_a_japanese_page_with_a_given_now() -> None:
    path = FIXTURES / "yamato_multi_constructed.html"
    result = CliRunner().invoke(
        carriers, ["parse", "yamato", str(path), "--now", "2025-01-14T12:00:00+09:00"]
    )
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in json.loads(result.output)] == [
        "delivered",
        "returning_to_sender",
        "pending",
    ]
    assert "配達完了（宅配ボックス）" in result.output  # raw text kept, not escaped


def test_cli_reports_a_parse_error_for_the_wrong_carrier() -> None:
    path = CONFORMANCE / "carrier_tracking" / "ups_track_v1_delivered.json"
    result = CliRunner().invoke(carriers, ["parse", "fedex", str(path)])
    assert result.exit_code == 1
    assert "fedex" in result.output


def test_module_entry_point_runs_without_the_app() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "carriers.cli", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "japanpost" in done.stdout


def test_postpurchase_cli_exposes_the_carriers_group() -> None:
    from postpurchase.cli import main

    result = CliRunner().invoke(main, ["carriers", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert "sagawa" in {row["code"] for row in json.loads(result.output)}


def test_what_an_adapter_announces_follows_its_registration() -> None:
    """Names and links are worked out once per carrier code, and again when the code is
    registered anew or forgotten."""
    from carriers import registry
    from carriers.base import Capabilities

    def adapter(name: str, tracking_url: str) -> object:
        announced = type(
            "Announcing",
            (),
            {
                "name": name,
                "local_names": {"ja": name + "（日本）"},
                "capabilities": Capabilities(tracking_url=tracking_url),
            },
        )
        return lambda settings: announced()

    registry.register("announcing")(adapter("First Post", "https://first.example/{number}"))
    try:
        first = registry.customer_links("announcing", "A1")
        assert (first.carrier_name, first.tracking_url) == (
            "First Post",
            "https://first.example/A1",
        )
        assert registry.display_names("announcing", None, "ja_JP") == ("First Post（日本）", None)
        registry.register("announcing")(adapter("Second Post", "https://second.example/{number}"))
        second = registry.customer_links("announcing", "A1")
        assert (second.carrier_name, second.tracking_url) == (
            "Second Post",
            "https://second.example/A1",
        )
    finally:
        registry.unregister("announcing")
    assert registry.customer_links("announcing", "A1").carrier_name == "announcing"
