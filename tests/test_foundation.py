"""The app factory, configuration, schema and migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, create_engine, update
from sqlmodel import SQLModel, select

import postpurchase.models  # noqa: F401
from postpurchase import clock, create_app
from postpurchase.config import settings_from_env
from postpurchase.db import upgrade
from postpurchase.models import Brand, Customer, CustomerProfile, Shipment
from postpurchase.models.types import new_row, update_row


def test_settings_read_prefixed_environment_variables() -> None:
    values = settings_from_env(
        {"POSTPURCHASE_MAX_BODY_BYTES": "2048", "POSTPURCHASE_SCHEDULER": "off", "OTHER": "x"}
    )
    assert values["MAX_BODY_BYTES"] == 2048
    assert values["SCHEDULER"] is False
    assert "OTHER" not in values


def test_default_database_is_sqlite_in_wal_mode(tmp_path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": ""})
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'postpurchase.db'}"
    from postpurchase.db import get_db

    with get_db(app).engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_postgresql_database_keeps_the_conversion_of_its_large_statements() -> None:
    """psycopg rewrites placeholders before sending; large statements get a bounded cache of
    their own (once, however many databases are opened), and it answers as psycopg would."""
    from psycopg import _queries

    from postpurchase.db import LARGE_STATEMENTS_CACHED, Database

    Database("postgresql+psycopg://nobody@127.0.0.1:9/none")  # no connection is made
    Database("postgresql+psycopg://nobody@127.0.0.1:9/none")
    convert = _queries._query2pg_nocache
    assert convert.cache_info().maxsize == LARGE_STATEMENTS_CACHED
    assert not hasattr(convert.__wrapped__, "cache_info")
    rows = b", ".join(b"(%%(a__%d)s, %%(b__%d)s)" % (i, i) for i in range(40))
    query = b"INSERT INTO t (a, b) VALUES " + rows  # 80 parameters: psycopg would not cache it
    converted = convert(query, "utf-8")
    assert convert(query, "utf-8") is converted
    assert converted[:3] == convert.__wrapped__(query, "utf-8")[:3]
    assert converted[0].startswith(b"INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)")


def test_migrations_match_the_models(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], "models changed without a migration: run scripts/make-migration"


def test_datetimes_come_back_aware_utc(app, session, brand) -> None:
    b = session.exec(select(Brand)).one()
    shipped = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    session.add(
        Shipment(brand_id=b.id, external_id="S1", carrier_code="yamato", shipped_at=shipped)
    )
    session.commit()
    session.expire_all()
    row = session.exec(select(Shipment)).one()
    assert row.shipped_at == shipped and row.shipped_at.tzinfo is not None


def test_model_defaults_are_fresh_per_row_and_read_the_clock_in_force() -> None:
    """The default factories are wrapped (``quick_factory``) so pydantic need not inspect them at
    every construction; each row still gets its own list and the moment of the clock in force."""
    pinned = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    with clock.use(lambda: pinned):
        first = Shipment(brand_id=1, external_id="S1", carrier_code="yamato")
        second = Shipment(brand_id=1, external_id="S2", carrier_code="yamato")
    first.lines.append({"sku": "A"})
    assert second.lines == []
    assert first.created_at == first.updated_at == pinned
    assert "__signature__" in vars(Shipment.model_fields["lines"].default_factory)


def _fields(row) -> dict:
    return {k: v for k, v in vars(row).items() if not k.startswith("_sa_")}


def test_new_row_is_the_constructors_row_and_is_stored_alike(session, brand) -> None:
    """``new_row`` skips sqlmodel's per-field ``setattr``: the row must still hold the same fields
    and defaults (its own list each time), the same pydantic bookkeeping, and insert the same."""
    pinned = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    values = {"brand_id": brand.brand_id, "carrier_code": "yamato", "tracking_number": "1234"}
    with clock.use(lambda: pinned):
        built = Shipment(external_id="S1", **values)
        fast = new_row(Shipment, external_id="S2", **values)
        other = new_row(Shipment, external_id="S3", **values)
    assert _fields(fast) == {**_fields(built), "external_id": "S2"}
    assert fast.model_fields_set == built.model_fields_set
    assert fast.lines == [] and fast.lines is not other.lines
    assert fast.delivered_at is None and "delivered_at" not in vars(fast)
    session.add_all([built, fast])
    session.commit()
    session.expire_all()
    stored = {s.external_id: s for s in session.exec(select(Shipment))}
    assert _fields(stored["S2"]) == {**_fields(stored["S1"]), "external_id": "S2", "id": fast.id}


def test_a_statement_run_on_the_driver_stores_what_sqlalchemy_stores(session, brand) -> None:
    """:class:`DriverStatement` converts each value as SQLAlchemy's execution does (aware dates,
    JSON, enums, booleans, a value the statement fixes itself) and returns the same rows."""
    from sqlalchemy import insert, literal_column

    from postpurchase.db import for_driver
    from postpurchase.models import InboxEvent, InboxState
    from postpurchase.models.types import table_of

    inbox = table_of(InboxEvent)
    statement = (
        insert(inbox)
        .values(
            brand_id=bindparam("brand_id"),
            source="wms",  # fixed by the statement
            external_id=bindparam("external_id"),
            event_type=bindparam("event_type"),
            occurred_at=bindparam("occurred_at", type_=inbox.c.occurred_at.type),
            body_sha256="0" * 64,
            raw_body=bindparam("raw_body", type_=inbox.c.raw_body.type),
            headers=bindparam("headers", type_=inbox.c.headers.type),
            signature_ok=bindparam("signature_ok", type_=inbox.c.signature_ok.type),
            state=bindparam("state", type_=inbox.c.state.type),
            attempts=0,
            received_at=bindparam("received_at", type_=inbox.c.received_at.type),
        )
        .returning(inbox.c.id, literal_column("1"))
    )
    values = {
        "brand_id": brand.brand_id,
        "event_type": "order.created",
        "occurred_at": datetime(2026, 11, 21, 10, 0, 5, 123456, tzinfo=UTC),
        "raw_body": b"{}",
        "headers": {"x-signature": "abc", "名前": "値"},
        "signature_ok": False,
        "state": InboxState.deferred,
        "received_at": datetime(2026, 11, 21, 10, 0, 6, tzinfo=UTC),
    }
    compiled = for_driver(statement, session.get_bind().dialect)
    assert for_driver(statement, session.get_bind().dialect) is compiled  # compiled once
    [(driver_id, one)] = compiled.rows(session, {**values, "external_id": "by-driver"})
    through_sqlalchemy = session.execute(statement, {**values, "external_id": "by-sqlalchemy"})
    [(orm_id, _)] = through_sqlalchemy.all()
    session.expire_all()
    stored = {row.external_id: row for row in session.exec(select(InboxEvent))}
    fields = {"id", "external_id"}
    assert one == 1 and stored["by-driver"].id == driver_id and stored["by-sqlalchemy"].id == orm_id
    assert stored["by-driver"].model_dump(exclude=fields) == stored["by-sqlalchemy"].model_dump(
        exclude=fields
    )
    assert stored["by-driver"].headers == values["headers"]
    assert stored["by-driver"].state == InboxState.deferred


def test_a_query_read_on_the_driver_gives_each_column_as_the_orm_does(session, brand) -> None:
    """:class:`DriverQuery` records of every table a tracking page reads hold what the ORM rows
    hold (aware dates, days, JSON, enums, booleans, None), under the models' field names; what the
    session has pending is flushed first, as its own queries would."""
    from datetime import date

    from sqlalchemy import select as sa_select

    from carriers.status import Handover, Status
    from postpurchase.db import query_for_driver, read_records
    from postpurchase.models import (
        DeliveryOption,
        DutiesTerms,
        Order,
        OrderLine,
        TimeSlot,
        TrackingEvent,
    )
    from postpurchase.models.types import table_of

    customer = Customer(brand_id=brand.brand_id, external_id="c-1", email="a@example.jp")
    session.add(customer)
    session.flush()
    order = Order(
        brand_id=brand.brand_id,
        external_id="o-1",
        number="1001",
        customer_id=customer.id,
        placed_at=datetime(2026, 11, 20, 3, 0, 0, 250000, tzinfo=UTC),
        total_amount=5980,
        duties_terms=DutiesTerms.ddp,
    )
    session.add(order)
    session.flush()
    line = OrderLine(
        brand_id=brand.brand_id,
        order_id=order.id,
        line_key="1",
        sku="TEA-01",
        name="ほうじ茶",
        quantity=2,
        unit_price=1490,
        final_sale=True,
    )
    shipment = Shipment(
        brand_id=brand.brand_id,
        order_id=order.id,
        external_id="s-1",
        carrier_code="yamato",
        tracking_number="123456789012",
        status=Status.available_for_pickup,
        predicted_date=date(2026, 11, 25),
        time_slot=TimeSlot.morning,
        delivery_option=DeliveryOption.convenience_store,
        delivered_to=Handover.convenience_store,
        lines=[{"sku": "TEA-01", "quantity": 2}],
    )
    session.add_all([line, shipment])
    session.flush()
    event = TrackingEvent(
        brand_id=brand.brand_id,
        shipment_id=shipment.id,
        status=Status.in_transit,
        occurred_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
        carrier_code="輸送中",
        description="輸送中",
        location=None,
    )
    session.add(event)  # pending: read_records flushes it
    for model, row in [
        (Customer, customer),
        (Order, order),
        (OrderLine, line),
        (Shipment, shipment),
        (TrackingEvent, event),
    ]:
        table = table_of(model)
        query = sa_select(table).where(table.c.brand_id == bindparam("brand_id"))
        [record] = read_records(session, query, {"brand_id": brand.brand_id})
        session.refresh(row)
        assert record._asdict() == row.model_dump(), model.__name__
        dialect = session.get_bind().dialect
        assert query_for_driver(query, dialect) is query_for_driver(query, dialect)


def test_a_loaded_row_is_got_without_a_query_and_an_expired_one_is_read_again(
    app, session, brand
) -> None:
    """``UnitSession.get``: a loaded, fresh row from the identity map; an expired row, a row not
    loaded, or an option: SQLAlchemy's ``get``, which reads the database."""
    from postpurchase.db import UnitSession, get_db
    from tests.sql import recorded

    assert isinstance(session, UnitSession)
    stored = session.get(Brand, brand.brand_id)
    assert stored is not None
    engine = get_db(app).engine
    with recorded(engine, starting="SELECT") as reads:
        assert session.get(Brand, brand.brand_id) is stored
    assert reads == []
    session.commit()  # the rows stay loaded (expire_on_commit=False)
    with engine.begin() as other:  # another transaction renames it
        other.execute(update(Brand).where(Brand.id == stored.id).values(name="改名"))
    with recorded(engine, starting="SELECT") as reads:
        assert session.get(Brand, stored.id) is stored and stored.name != "改名"  # as loaded
        assert session.get(Brand, stored.id, populate_existing=True).name == "改名"
        session.expire(stored)
        assert session.get(Brand, stored.id) is stored
        assert session.get(Brand, 10**9) is None
    assert len(reads) == 3  # populate_existing, the expired row, the missing one


def test_new_row_refuses_a_field_the_model_does_not_have() -> None:
    import pytest

    with pytest.raises(TypeError, match="no field trackingnumber"):
        new_row(Shipment, brand_id=1, external_id="S1", trackingnumber="1234")


def test_new_row_leaves_to_the_constructor_what_it_would_not_build_right() -> None:
    from pydantic import PrivateAttr
    from sqlmodel import Field

    from postpurchase.models.types import _plain

    class Aliased(SQLModel):
        value: int = Field(default=0, alias="v")

    class WithPrivate(SQLModel):
        value: int = 0
        _seen: int = PrivateAttr(default=0)

    assert _plain(Shipment) and _plain(CustomerProfile)
    assert not _plain(Aliased) and not _plain(WithPrivate)


def test_update_row_marks_only_the_fields_whose_value_changed(session, brand) -> None:
    from sqlalchemy import inspect

    customer = Customer(brand_id=brand.brand_id, external_id="C1")
    session.add(customer)
    session.flush()
    profile = CustomerProfile(
        brand_id=brand.brand_id, customer_id=customer.id, order_count=2, units=3
    )
    session.add(profile)
    session.commit()
    update_row(profile, {"order_count": 2, "units": 4})
    changed = {a.key for a in inspect(profile).attrs if a.history.has_changes()}
    assert changed == {"units"} and profile.units == 4


def test_healthz(client) -> None:
    assert client.get("/healthz").json == {"status": "ok"}


def test_cli_help_lists_our_commands_not_flasks_app_options() -> None:
    from click.testing import CliRunner

    from postpurchase.cli import main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "--app" not in result.output and "--env-file" not in result.output
    for command in ("init", "edd", "messages", "tracking", "inbox", "demo"):
        assert f"  {command} " in result.output


def _customers(brand_id: int, *names: str, **fixed: int) -> list[Customer]:
    return [
        new_row(Customer, brand_id=brand_id, external_id=name, email=f"{name}@example.com", **fixed)
        for name in names
    ]


def test_new_rows_written_together_take_the_ids_the_database_would_give(app, brand) -> None:
    """Under a unit of work's write lock, SQLite's new rows are numbered before the flush and
    written in one ``executemany``: the largest id plus one onwards, in the order they were
    added, past an id a pending row was given by hand. PostgreSQL numbers them itself in its
    one multi-row INSERT. Either way, each id is new and the order is kept."""
    from postpurchase.db import claim_scope, get_db
    from tests.sql import recorded

    engine = get_db(app).engine
    with claim_scope(app) as session:
        session.add_all(_customers(brand.brand_id, "c1"))
        session.flush()
        (first,) = session.exec(select(Customer.id)).all()
        rows = _customers(brand.brand_id, "c2", "c3") + _customers(
            brand.brand_id, "c4", id=first + 5
        )
        rows += _customers(brand.brand_id, "c5", "c6")
        session.add_all(rows)
        with recorded(engine, starting="INSERT", containing="customer") as inserts:
            session.flush()
        numbers = {row.external_id: row.id for row in rows}
    assert numbers["c4"] == first + 5
    others = [numbers[name] for name in ("c2", "c3", "c5", "c6")]
    assert others == sorted(others) and len(set(numbers.values())) == 5
    if get_db(app).is_sqlite:
        assert others == [first + 6, first + 7, first + 8, first + 9]
        assert len(inserts) == 1  # one executemany
    with get_db(app).session() as session:
        stored = dict(session.exec(select(Customer.external_id, Customer.id)).all())
    assert stored == {"c1": first, **numbers}


def test_new_rows_outside_a_write_lock_are_numbered_by_the_database(app, brand) -> None:
    """Without the write lock (a request's session on SQLite), another process may insert
    between reading the largest id and writing: the ids are left to the database."""
    from postpurchase.db import get_db
    from tests.sql import recorded

    with get_db(app).session() as session:
        rows = _customers(brand.brand_id, "a", "b", "c")
        session.add_all(rows)
        with recorded(get_db(app).engine, containing="max(") as numbering:
            session.flush()
        assert numbering == [] and len({row.id for row in rows}) == 3
        session.commit()
