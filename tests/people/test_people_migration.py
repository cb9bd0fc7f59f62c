"""Users made before memberships existed keep working: the migration makes each an owner of its brand."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from postpurchase.db import upgrade

#: The last revision before memberships.
BEFORE_PEOPLE = "a31501cc9bb6"


def test_migration_makes_each_existing_user_an_owner_of_its_brand(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, BEFORE_PEOPLE)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO brand (id, slug, name, locale, timezone, currency, country, "
                "signing_secret, settings, created_at) VALUES (7, 'old', 'Old', 'ja', "
                "'Asia/Tokyo', 'JPY', 'JP', 's', '{}', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO merchantuser (id, brand_id, email, name, password_hash, "
                "session_version, created_at) VALUES (3, 7, 'ops@old.example', '', 'x', 1, "
                "'2026-01-01 00:00:00')"
            )
        )
    upgrade(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT brand_id, user_id, role FROM membership")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [(7, 3, "owner")]
