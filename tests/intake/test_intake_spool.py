"""SQLite: webhooks are committed to the spool and moved into the inbox by the next unit of work.

What must hold: accepting never waits for the main database's write lock; an event keeps the id
its sender was answered with; a duplicate is recognised wherever the first copy is (spool or
inbox); a crash between moving and deleting from the spool neither loses nor doubles an event;
an event spooled before ``INBOX_SPOOL`` was turned off is still moved.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from intake_helpers import example, inbox, process, rows
from sqlalchemy import select

from postpurchase.cli import main
from postpurchase.db import claim_scope, get_db, write_lock
from postpurchase.inbox import Received, accept, move_spooled, receive
from postpurchase.inbox.spool import drain, spool_of, spool_to_move, spooled
from postpurchase.intake.schemas import EventType
from postpurchase.models import InboxState, Order

ORDER = example(EventType.order_created)


@pytest.fixture(autouse=True)
def _sqlite_file(app: Flask) -> None:
    if spool_of(app) is None:
        pytest.skip("the spool exists only for a SQLite file database")


def spooled_ids(app: Flask) -> list[int]:
    spool = spool_to_move(get_db(app).engine)
    if spool is None:
        return []
    with spool.database.engine.connect() as connection:
        return list(connection.execute(select(spooled.c.id).order_by(spooled.c.id)).scalars())


def test_an_accepted_event_waits_in_the_spool_then_is_processed_under_its_answered_id(
    app, post_event
) -> None:
    answer = post_event(ORDER)
    assert answer.status_code == 202
    assert (spooled_ids(app), inbox(app)) == ([answer.json["id"]], [])
    assert process(app).processed == 1
    assert [(e.id, e.state) for e in inbox(app)] == [(answer.json["id"], InboxState.processed)]
    assert spooled_ids(app) == []


def test_accepting_waits_neither_for_the_write_lock_nor_for_a_writing_transaction(
    app, post_event
) -> None:
    """A unit of work holds both for as long as it applies events; the answer must not wait."""
    writer = sqlite3.connect(str(get_db(app).engine.url.database), isolation_level=None)
    with write_lock(app):
        writer.execute("BEGIN IMMEDIATE")
        answer = post_event(ORDER)
        writer.execute("ROLLBACK")
    writer.close()
    assert answer.status_code == 202, answer.json


BODY = b'{"id": "evt-1", "type": "order.created"}'


@pytest.mark.parametrize("moved_first", [False, True], ids=["first in the spool", "first in inbox"])
@pytest.mark.parametrize(
    ("external_id", "body"),
    [("evt-1", BODY), ("evt-2", BODY), ("evt-1", BODY + b" ")],
    ids=["same delivery", "same body under another id", "same id with another body"],
)
def test_a_second_delivery_is_a_duplicate_of_the_first_wherever_that_one_is(
    app, brand, moved_first: bool, external_id: str, body: bytes
) -> None:
    def deliver(external_id: str, body: bytes) -> Received:
        return accept(
            app, brand_id=brand.brand_id, source="wms", external_id=external_id, raw_body=body
        )

    first = deliver("evt-1", BODY)
    if moved_first:
        move_spooled(app)
    assert deliver(external_id, body) == Received(first.id, duplicate=True)
    move_spooled(app)
    assert [e.id for e in inbox(app)] == [first.id]
    assert spooled_ids(app) == []


def test_an_event_moved_but_not_yet_deleted_from_the_spool_is_not_moved_again(app, post_event):
    """A crash after the unit of work committed and before the spool forgot what it moved."""
    first = post_event(ORDER).json["id"]
    spool = spool_to_move(get_db(app).engine)
    assert spool is not None
    with claim_scope(app) as session:
        assert drain(spool, session) == [first]  # committed; forget() never called
    assert spooled_ids(app) == [first]
    assert process(app).processed == 1
    assert [e.id for e in inbox(app)] == [first]
    assert spooled_ids(app) == []
    assert len(rows(app, Order)) == 1


def test_a_spooled_event_whose_id_was_taken_meanwhile_gets_a_new_one(app, post_event, brand):
    """Only something writing the inbox directly (the demo's import) can take a spooled id."""
    spooled_id = post_event(ORDER).json["id"]
    with claim_scope(app) as session:
        taken = receive(
            session=session,
            brand_id=brand.brand_id,
            source="wms",
            external_id="written-directly",
            raw_body=b"{}",
            state=InboxState.ignored,
        )
    assert taken.id == spooled_id
    move_spooled(app)
    events = {e.external_id: e.id for e in inbox(app)}
    assert events["written-directly"] == spooled_id
    assert events[ORDER["id"]] > spooled_id
    assert process(app).processed == 1


def test_events_spooled_before_the_spool_was_turned_off_are_still_processed(
    app, post_event
) -> None:
    spooled_id = post_event(ORDER).json["id"]
    app.config["INBOX_SPOOL"] = False
    second = example(EventType.order_created, order_id="SO-2", number="#2") | {"id": "evt-second"}
    answer = post_event(second)
    assert answer.status_code == 202, answer.json
    direct = answer.json["id"]
    assert spooled_ids(app) == [spooled_id]
    assert direct in {e.id for e in inbox(app)}
    assert process(app).processed == 2
    assert spooled_ids(app) == []
    assert {e.state for e in inbox(app)} == {InboxState.processed}


CREATE_AND_COUNT = """
import pathlib, sys
from postpurchase.db import Database
from postpurchase.inbox.spool import Spool, spooled
from sqlalchemy import func, select
main = Database(sys.argv[1])  # kept: the spool holds its engine weakly, as an app does
spool = Spool(pathlib.Path(sys.argv[2]), main.engine)
print("ready", flush=True)
sys.stdin.readline()  # all go at once (a pipe, not the clock: tests never read it)
with spool.transaction() as connection:
    print(connection.execute(select(func.count()).select_from(spooled)).scalar())
"""


@pytest.mark.slow
def test_processes_creating_the_spool_at_once_all_get_it(app) -> None:
    """Every web process and worker creates the spool on its first webhook; their CREATE TABLEs
    must take turns (SQLite refused the losers at once with "database is locked")."""
    main = get_db(app).engine
    path = Path(str(Path(str(main.url.database)).resolve()) + ".spool")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE_AND_COUNT, str(main.url), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(12)
    ]
    for child in processes:  # imported and connected
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in processes:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    # No timeout: its polling sleeps, which the faked clock of one CI pass refuses (EINVAL).
    answers = [child.communicate() for child in processes]
    assert [(out.strip(), err[-300:]) for out, err in answers] == [("0", "")] * len(processes)


def test_the_inbox_command_lists_an_event_still_in_the_spool(app, post_event, runner) -> None:
    answer = post_event(ORDER)
    listed = runner.invoke(main, args=["inbox", "list", "--state", "pending"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith(f"{answer.json['id']}\t") and "order.created" in listed.output
    assert spooled_ids(app) == []
