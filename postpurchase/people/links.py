"""One-time links: signed, expiring on the pinned clock, and good for one use.

A link's token is ``{"i": <row id>, "s": <random secret>}`` signed with the app's secret key and a
salt per purpose, so a token is useless for another purpose and cannot be made up; the row stores
only the secret's SHA-256, and its ``used_at`` makes the second use fail even when two requests race.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import update
from sqlmodel import Session, col

from postpurchase.db import affected_rows
from postpurchase.models import LinkPurpose, OneTimeLink, Role

#: How long a link works after it was sent.
LIFETIME = {
    LinkPurpose.invitation: timedelta(days=7),
    LinkPurpose.password_reset: timedelta(hours=1),
}


@lru_cache(maxsize=64)
def _serializer(secret_key: str, purpose: LinkPurpose) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"postpurchase.people.{purpose.value}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    *,
    session: Session,
    secret_key: str,
    purpose: LinkPurpose,
    email: str,
    now: datetime,
    brand_id: int | None = None,
    user_id: int | None = None,
    role: Role | None = None,
    created_by: str = "",
) -> tuple[OneTimeLink, str]:
    """A new link row and its token (shown or sent once; not stored)."""
    secret = secrets.token_urlsafe(24)
    link = OneTimeLink(
        purpose=purpose,
        email=email,
        brand_id=brand_id,
        user_id=user_id,
        role=role,
        secret_hash=_hash(secret),
        created_by=created_by,
        created_at=now,
        expires_at=now + LIFETIME[purpose],
    )
    session.add(link)
    session.flush()
    return link, _serializer(secret_key, purpose).dumps({"i": link.id, "s": secret})


def find(
    *, session: Session, secret_key: str, purpose: LinkPurpose, token: str, now: datetime
) -> OneTimeLink | None:
    """The link of a valid token that is neither used, revoked nor expired; None otherwise."""
    try:
        data = _serializer(secret_key, purpose).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        return None
    link = session.get(OneTimeLink, data["i"])
    if (
        link is None
        or link.purpose != purpose
        or not hmac.compare_digest(link.secret_hash, _hash(str(data.get("s", ""))))
        or link.used_at is not None
        or link.revoked_at is not None
        or now >= link.expires_at
    ):
        return None
    return link


def use(*, session: Session, link: OneTimeLink, now: datetime) -> bool:
    """Mark the link used; False when another request used it first."""
    used = session.execute(
        update(OneTimeLink)
        .where(col(OneTimeLink.id) == link.id, col(OneTimeLink.used_at).is_(None))
        .values(used_at=now)
    )
    session.refresh(link)
    return affected_rows(used) == 1
