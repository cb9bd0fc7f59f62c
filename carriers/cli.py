"""``carriers`` command group: list adapters, parse saved carrier responses.

Works without Flask (``python -m carriers.cli``) and as ``postpurchase carriers``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from carriers import registry
from carriers.base import CarrierError, TrackingResult


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def result_json(result: TrackingResult) -> dict[str, Any]:
    """A :class:`TrackingResult` as JSON-ready data with normalized status names."""
    data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    data["events"] = [
        {f.name: getattr(e, f.name) for f in dataclasses.fields(e)} for e in result.events
    ]
    data["extra"] = dict(result.extra)
    data["pickup"] = dataclasses.asdict(result.pickup) if result.pickup else None
    jsonable: dict[str, Any] = _jsonable(data)
    return jsonable


@click.group("carriers")
def carriers() -> None:
    """Carrier adapters: what exists, and what a saved response parses to."""


@carriers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """Show every adapter with its capabilities and the credentials it expects."""
    rows = []
    for code in registry.codes():
        adapter = registry.create(code)
        caps = adapter.capabilities
        rows.append(
            {
                "code": code,
                "name": adapter.name,
                **dataclasses.asdict(caps),
                "credential_keys": list(getattr(adapter, "credential_keys", ())),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    header = f"{'code':<16}{'batch':>6}{'req/s':>7}  {'auth':<26}{'webhooks':<9}credentials"
    click.echo(header)
    click.echo("-" * len(header))
    for row in rows:
        click.echo(
            f"{row['code']:<16}{row['max_batch']:>6}{row['requests_per_second']:>7g}  {row['auth']:<26}"
            f"{'yes' if row['supports_webhooks'] else 'no':<9}{', '.join(row['credential_keys']) or '-'}"
        )


@carriers.command("parse")
@click.argument("code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--now",
    "now_text",
    default=None,
    help="ISO time the page was fetched (year inference for Japanese pages).",
)
def parse_command(code: str, file: Path, now_text: str | None) -> None:
    """Print the TrackingResult(s) that FILE, a saved response of carrier CODE, parses to."""
    try:
        adapter = registry.create(code)
        kwargs: dict[str, Any] = {}
        if now_text:
            now = datetime.fromisoformat(now_text)
            kwargs["now"] = now if now.tzinfo else now.astimezone()
        parse = getattr(adapter, "parse", None)
        if parse is None:
            raise click.ClickException(f"{code} has no parser for saved responses")
        results = parse(file.read_bytes(), **kwargs)
    except (CarrierError, TypeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps([result_json(r) for r in results], ensure_ascii=False, indent=2))


if __name__ == "__main__":
    carriers()
