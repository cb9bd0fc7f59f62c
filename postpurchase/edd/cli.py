"""``postpurchase edd``: fit from a history CSV, walk-forward backtest, accuracy report.

Other tools call these commands; keep the options and file formats stable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from postpurchase.config import running_app
from postpurchase.edd.backtest import (
    AsOf,
    Setting,
    stderr_progress,
    walk_forward,
    write_predictions,
)
from postpurchase.edd.calendar import CarrierCalendar
from postpurchase.edd.history import HistoryError, HistoryRow, read_history, timezone_for


@click.group("edd")
def edd() -> None:
    """Delivery-date prediction: fit, backtest, report."""


def _window(value: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("expected two levels such as 0.1,0.9") from None
    if not 0 < low < high < 1:
        raise click.BadParameter("levels must satisfy 0 < low < high < 1")
    return low, high


def _read(path: Path, timezone: str) -> list[HistoryRow]:
    try:
        return read_history(path, timezone=timezone)
    except HistoryError as exc:
        raise click.ClickException(str(exc)) from None


@edd.command("backtest")
@click.option(
    "--train", "train_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--as-of",
    "as_of",
    type=click.Choice([m.value for m in AsOf]),
    default="ordered",
    show_default=True,
)
@click.option("--promise-level", type=click.FloatRange(0.01, 0.999), default=0.9, show_default=True)
@click.option(
    "--country", default="JP", show_default=True, help="Holiday calendar (ISO country code)."
)
@click.option(
    "--timezone",
    default=None,
    help="Zone of naive timestamps and output dates (default: the country's).",
)
@click.option(
    "--window", "window", default="0.1,0.9", show_default=True, help="Window quantile levels."
)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--in-flight",
    "use_in_flight",
    is_flag=True,
    help="Also let each refit see rows started and not yet delivered (what the live service knows "
    "from tracking). Reads more than the strict walk-forward rule; off by default.",
)
def backtest_command(
    train_path: Path,
    test_path: Path,
    as_of: str,
    promise_level: float,
    country: str,
    timezone: str | None,
    window: str,
    out_path: Path,
    use_in_flight: bool,
) -> None:
    """Walk-forward backtest: predict TEST rows in time order from what was delivered before each."""
    started = time.perf_counter()
    zone = timezone or timezone_for(country)
    train = _read(train_path, zone)
    test = _read(test_path, zone)
    setting = Setting(calendar=CarrierCalendar(country=country.upper()), timezone=zone)
    predictions = walk_forward(
        train,
        test,
        mode=AsOf(as_of),
        setting=setting,
        promise_level=promise_level,
        window=_window(window),
        progress=stderr_progress(),
        use_in_flight=use_in_flight,
    )
    with out_path.open("w", newline="") as handle:
        write_predictions(predictions, handle)
    click.echo(
        f"{len(predictions)} predictions written to {out_path} in {time.perf_counter() - started:.1f} s",
        err=True,
    )


@edd.command("fit")
@click.option(
    "--history", "history_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--brand", "brand_slug", default=None, help="Brand slug; without it the instance default model."
)
@click.option(
    "--as-of",
    "as_of",
    type=click.Choice([m.value for m in AsOf]),
    default="ordered",
    show_default=True,
)
@with_appcontext
def fit_command(history_path: Path, brand_slug: str | None, as_of: str) -> None:
    """Fit the transit model from a history CSV and store it for the brand (or as the default)."""
    from postpurchase.edd import service

    app = running_app()
    try:
        summary = service.fit_from_history_file(
            app, path=history_path, brand_slug=brand_slug, mode=AsOf(as_of)
        )
    except HistoryError as exc:
        raise click.ClickException(str(exc)) from None
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary)


@edd.command("report")
@click.option("--brand", "brand_slug", default=None, help="Only this brand.")
@with_appcontext
def report_command(brand_slug: str | None) -> None:
    """Print the accuracy of stored predictions whose parcels have been delivered."""
    from postpurchase.db import session_scope
    from postpurchase.edd.report import accuracy, format_report

    with session_scope() as session:
        rows = accuracy(session=session, brand_slug=brand_slug)
    click.echo(format_report(rows))


@edd.group("leadtimes")
def leadtimes() -> None:
    """Lead-time tables for brands without enough deliveries of their own (cold start)."""


@leadtimes.command("import")
@click.option("--brand", "brand_slug", required=True, help="Brand slug.")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def leadtimes_import_command(brand_slug: str, csv_path: Path) -> None:
    """Replace the brand's lead-time table (origin,destination,days,earliest_slot)."""
    from postpurchase import audit
    from postpurchase.brands import get_brand
    from postpurchase.db import session_scope
    from postpurchase.edd.leadtimes import LeadTimeError, import_leadtimes, parse_leadtimes

    try:
        rows = parse_leadtimes(csv_path.read_text(encoding="utf-8-sig"))
    except (LeadTimeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{csv_path.name}: {exc}") from None
    with session_scope() as session:
        brand = get_brand(session=session, slug=brand_slug)
        if brand is None or brand.id is None:
            raise click.ClickException(f"no brand {brand_slug!r}")
        count = import_leadtimes(session=session, brand_id=brand.id, rows=rows)
        audit.record(
            session=session,
            brand_id=brand.id,
            actor="cli",
            action="edd.leadtimes_imported",
            subject=csv_path.name,
            after={"rows": count},
        )
    click.echo(f"{count} lead times stored for brand {brand_slug}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(edd())
