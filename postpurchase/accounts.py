"""Merchant users: passwords, sign-in with throttling, the version that ends their sessions, and
which brands each may open with which role.

A sign-in cookie carries the user's ``session_version``; signing out or changing the password
bumps it, so a cookie saved before no longer opens the merchant pages.

A user's role in a brand comes from a :class:`Membership` row, or, for an installation operator,
from ``MerchantUser.installation_role``, which holds in every brand. :func:`role_in` is the one
answer to "may this user open this brand, and as what".
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app, has_app_context
from sqlmodel import Session, col, select
from werkzeug.security import check_password_hash, generate_password_hash

from postpurchase import throttle
from postpurchase.config import default_of
from postpurchase.models import Brand, Membership, MerchantUser, Role

#: Failed sign-ins allowed per email (whatever the address) and per client address (whatever the
#: email) within the window. An office shares one address, so its limit is higher.
FAILURES_PER_ACCOUNT = 10
FAILURES_PER_ADDRESS = 50
FAILURE_WINDOW = timedelta(minutes=15)
ACCOUNT_SCOPE = "merchant-sign-in:email"
ADDRESS_SCOPE = "merchant-sign-in:address"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def add_merchant_user(
    *,
    session: Session,
    brand_id: int,
    email: str,
    password: str,
    name: str = "",
    role: Role = Role.owner,
) -> MerchantUser:
    """A new user who is a member of ``brand_id`` with ``role``."""
    user = MerchantUser(
        brand_id=brand_id,
        email=normalize_email(email),
        name=name,
        password_hash=_hashed(password),
    )
    session.add(user)
    session.flush()
    session.add(Membership(brand_id=brand_id, user_id=id_of(user), role=role))
    session.flush()
    return user


def find_user_by_email(*, session: Session, email: str) -> MerchantUser | None:
    """The account of ``email`` (the oldest, where older installations made one per brand)."""
    return session.exec(
        select(MerchantUser)
        .where(MerchantUser.email == normalize_email(email))
        .order_by(col(MerchantUser.id))
    ).first()


def membership(*, session: Session, user_id: int, brand_id: int) -> Membership | None:
    return session.exec(
        select(Membership).where(Membership.user_id == user_id, Membership.brand_id == brand_id)
    ).first()


def role_in(*, session: Session, user: MerchantUser, brand_id: int) -> Role | None:
    """The user's role in the brand: its membership's, else its installation role; None: no access."""
    member = membership(session=session, user_id=id_of(user), brand_id=brand_id)
    return member.role if member is not None else user.installation_role


def brands_of(*, session: Session, user: MerchantUser) -> list[Brand]:
    """The brands the user may open, by name: every brand for an installation operator."""
    query = select(Brand).order_by(col(Brand.name), col(Brand.id))
    if user.installation_role is None:
        query = query.join(Membership, col(Membership.brand_id) == col(Brand.id)).where(
            Membership.user_id == user.id
        )
    return list(session.exec(query).all())


def brand_access(
    *, session: Session, user: MerchantUser, brand_id: object
) -> tuple[Brand, Role] | None:
    """The brand ``brand_id`` and the user's role in it if the user may open it; else the brand the
    account was made for, else the first the user may open; None when the user may open none."""
    candidates: list[int] = [brand_id] if isinstance(brand_id, int) else []
    candidates.append(user.brand_id)
    for candidate in candidates:
        role = role_in(session=session, user=user, brand_id=candidate)
        brand = session.get(Brand, candidate) if role is not None else None
        if brand is not None and role is not None:
            return brand, role
    for brand in brands_of(session=session, user=user)[:1]:
        role = role_in(session=session, user=user, brand_id=id_of(brand))
        if role is not None:
            return brand, role
    return None


def find_merchant_user(*, session: Session, brand_id: int, email: str) -> MerchantUser | None:
    return session.exec(
        select(MerchantUser).where(
            MerchantUser.brand_id == brand_id, MerchantUser.email == normalize_email(email)
        )
    ).first()


def _positive_integers(values: list[str]) -> bool:
    return all(value.isdigit() and int(value) > 0 for value in values)


def check_hash_method(method: str) -> None:
    """Refuse a ``PASSWORD_HASH_METHOD`` werkzeug cannot hash with, at start rather than at the
    first sign-in: ``scrypt[:n:r:p]`` or ``pbkdf2:<hashlib name>[:iterations]``."""
    name, *params = method.split(":")
    if name == "scrypt":
        valid = len(params) in (0, 3) and _positive_integers(params)
    elif name == "pbkdf2":
        valid = (
            len(params) in (1, 2)
            and params[0] in hashlib.algorithms_available
            and _positive_integers(params[1:])
        )
    else:
        valid = False
    if valid:
        return
    raise ValueError(
        f"PASSWORD_HASH_METHOD={method!r}: expected scrypt, scrypt:<n>:<r>:<p> or "
        "pbkdf2:<hash>[:<iterations>], e.g. pbkdf2:sha256:600000"
    )


def _hash_method() -> str:
    """``PASSWORD_HASH_METHOD`` of the app in context; the setting's default outside one."""
    method = current_app.config.get("PASSWORD_HASH_METHOD") if has_app_context() else None
    return str(method or default_of("PASSWORD_HASH_METHOD"))


def _hashed(password: str) -> str:
    return generate_password_hash(password, method=_hash_method())


@cache
def _dummy_hash(method: str) -> str:
    """A hash of no one's password, made like real ones (same method and cost)."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def authenticate(*, session: Session, email: str, password: str) -> MerchantUser | None:
    """The user whose email and password match; None otherwise.

    An unknown email is checked against a dummy hash, so the answer takes as long as for a known
    email with a wrong password and does not tell whether an account exists.
    """
    users = session.exec(
        select(MerchantUser).where(MerchantUser.email == normalize_email(email))
    ).all()
    if not users:
        check_password_hash(_dummy_hash(_hash_method()), password)
        return None
    for user in users:
        if check_password_hash(user.password_hash, password):
            return user
    return None


@dataclass(frozen=True)
class SignIn:
    """The signed-in user, or why not: wrong credentials, or ``retry_after`` seconds of throttling."""

    user: MerchantUser | None
    retry_after: int = 0


def sign_in(*, session: Session, email: str, password: str, address: str, now: datetime) -> SignIn:
    """Check the password unless this email or client address failed too often lately.

    Failures are counted in the database (shared by every worker); the caller commits them even
    though the request fails. A success forgets the email's failures, never the address's, so one
    valid account cannot clear an address that is guessing others.
    """
    email = normalize_email(email)
    for scope, key, limit in (
        (ACCOUNT_SCOPE, email, FAILURES_PER_ACCOUNT),
        (ADDRESS_SCOPE, address, FAILURES_PER_ADDRESS),
    ):
        verdict = throttle.check(
            session=session, scope=scope, key=key, limit=limit, window=FAILURE_WINDOW, now=now
        )
        if not verdict.allowed:
            return SignIn(user=None, retry_after=verdict.retry_after)
    user = authenticate(session=session, email=email, password=password)
    if user is None:
        for scope, key in ((ACCOUNT_SCOPE, email), (ADDRESS_SCOPE, address)):
            throttle.record_failure(
                session=session, scope=scope, key=key, window=FAILURE_WINDOW, now=now
            )
        return SignIn(user=None)
    throttle.reset(session=session, scope=ACCOUNT_SCOPE, key=email)
    return SignIn(user=user)


def end_sessions(*, session: Session, user: MerchantUser) -> None:
    """Make every sign-in cookie issued to the user so far invalid."""
    user.session_version += 1
    session.add(user)
    session.flush()


def set_password(*, session: Session, user: MerchantUser, password: str) -> None:
    """Change the password and sign the user out everywhere."""
    user.password_hash = _hashed(password)
    end_sessions(session=session, user=user)


def user_for_session(*, session: Session, user_id: object, version: object) -> MerchantUser | None:
    """The user a sign-in cookie names, if the cookie's session version is still the current one."""
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    user = session.get(MerchantUser, user_id)
    return user if user is not None and user.session_version == version else None


_RANK = {Role.read_only: 0, Role.staff: 1, Role.owner: 2}


def role_allows(role: Role, least: Role) -> bool:
    """Whether ``role`` is ``least`` or above it (owner > staff > read-only)."""
    return _RANK[role] >= _RANK[least]


def id_of(row: MerchantUser | Brand | Membership) -> int:
    """The id of a stored row (every flushed row has one)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} is not stored yet")
    return row.id
