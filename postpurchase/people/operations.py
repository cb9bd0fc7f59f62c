"""Members of a brand and their roles, invitations and password resets; each recorded in the audit log.

Operations raise :class:`PeopleError` with a code and the field it concerns; views turn it into a
message next to that field, the CLI into a command error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from postpurchase import accounts, audit, throttle
from postpurchase.models import Brand, LinkPurpose, Membership, MerchantUser, OneTimeLink, Role
from postpurchase.people import links

#: Password-reset requests allowed per email and per client address within the window: every
#: request counts, found or not, so the limit tells nothing about which addresses have accounts.
RESETS_PER_EMAIL = 3
RESETS_PER_ADDRESS = 20
RESET_WINDOW = timedelta(hours=1)
RESET_EMAIL_SCOPE = "password-reset:email"
RESET_ADDRESS_SCOPE = "password-reset:address"

MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_EMAIL = 254
MAX_NAME = 200


class PeopleError(ValueError):
    """An operation refused: ``code`` says why, ``field`` which input it concerns."""

    def __init__(self, code: str, field: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.field = field


class MemberNotFound(LookupError):
    """No such member or invitation in this brand (a 404: another brand's ids name nothing here)."""


@dataclass(frozen=True)
class Member:
    membership: Membership
    user: MerchantUser


def email_problem(email: str) -> str | None:
    """Why ``email`` cannot be a person's sign-in (a code), or None."""
    local, at, domain = email.partition("@")
    if not email:
        return "required"
    if len(email) > MAX_EMAIL or not at or not local or "." not in domain or " " in email:
        return "invalid_email"
    return None


def password_problem(password: str, confirm: str) -> str | None:
    """Why a new password is refused (a code), or None."""
    if len(password) < MIN_PASSWORD:
        return "password_short"
    if len(password) > MAX_PASSWORD:
        return "password_long"
    if password != confirm:
        return "password_mismatch"
    return None


def members(*, session: Session, brand_id: int) -> list[Member]:
    rows = session.exec(
        select(Membership, MerchantUser)
        .join(MerchantUser, col(MerchantUser.id) == col(Membership.user_id))
        .where(Membership.brand_id == brand_id)
        .order_by(col(MerchantUser.email))
    ).all()
    return [Member(membership, user) for membership, user in rows]


def pending_invitations(*, session: Session, brand_id: int, now: datetime) -> list[OneTimeLink]:
    return list(
        session.exec(
            select(OneTimeLink)
            .where(
                OneTimeLink.brand_id == brand_id,
                OneTimeLink.purpose == LinkPurpose.invitation,
                col(OneTimeLink.used_at).is_(None),
                col(OneTimeLink.revoked_at).is_(None),
                col(OneTimeLink.expires_at) > now,
            )
            .order_by(col(OneTimeLink.id))
        ).all()
    )


def member(*, session: Session, brand_id: int, membership_id: int) -> Member:
    row = session.exec(
        select(Membership, MerchantUser)
        .join(MerchantUser, col(MerchantUser.id) == col(Membership.user_id))
        .where(Membership.id == membership_id, Membership.brand_id == brand_id)
    ).first()
    if row is None:
        raise MemberNotFound(membership_id)
    return Member(*row)


def member_by_email(*, session: Session, brand_id: int, email: str) -> Member:
    row = session.exec(
        select(Membership, MerchantUser)
        .join(MerchantUser, col(MerchantUser.id) == col(Membership.user_id))
        .where(
            Membership.brand_id == brand_id,
            MerchantUser.email == accounts.normalize_email(email),
        )
    ).first()
    if row is None:
        raise MemberNotFound(email)
    return Member(*row)


def invite(
    *,
    session: Session,
    brand_id: int,
    email: str,
    role: Role,
    actor: str,
    secret_key: str,
    now: datetime,
) -> tuple[OneTimeLink, str]:
    """A one-time link for ``email`` to join the brand as ``role``, replacing earlier pending ones."""
    email = accounts.normalize_email(email)
    if problem := email_problem(email):
        raise PeopleError(problem, "email")
    existing = accounts.find_user_by_email(session=session, email=email)
    if existing is not None and accounts.membership(
        session=session, user_id=accounts.id_of(existing), brand_id=brand_id
    ):
        raise PeopleError("already_member", "email")
    for earlier in pending_invitations(session=session, brand_id=brand_id, now=now):
        if earlier.email == email:
            earlier.revoked_at = now
            session.add(earlier)
    link, token = links.create(
        session=session,
        secret_key=secret_key,
        purpose=LinkPurpose.invitation,
        email=email,
        brand_id=brand_id,
        role=role,
        created_by=actor,
        now=now,
    )
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="member.invite",
        subject=email,
        after={"role": role.value},
    )
    return link, token


def revoke_invitation(
    *, session: Session, brand_id: int, invitation_id: int, actor: str, now: datetime
) -> OneTimeLink:
    link = session.get(OneTimeLink, invitation_id)
    if (
        link is None
        or link.brand_id != brand_id
        or link.purpose != LinkPurpose.invitation
        or link.used_at is not None
        or link.revoked_at is not None
    ):
        raise MemberNotFound(invitation_id)
    link.revoked_at = now
    session.add(link)
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="member.invite_revoke",
        subject=link.email,
    )
    return link


def accept_invitation(
    *, session: Session, link: OneTimeLink, name: str, password: str, now: datetime
) -> MerchantUser:
    """Join the invited brand with the invited role, creating the account if the email has none,
    and set its password (the link proves the person reads that mailbox, as a reset link would)."""
    if link.brand_id is None or link.role is None:
        raise PeopleError("link_used")
    if not links.use(session=session, link=link, now=now):
        raise PeopleError("link_used")
    user = accounts.find_user_by_email(session=session, email=link.email)
    if user is None:
        user = accounts.add_merchant_user(
            session=session,
            brand_id=link.brand_id,
            email=link.email,
            password=password,
            name=name.strip(),
            role=link.role,
        )
    else:
        user_id = accounts.id_of(user)
        if accounts.membership(session=session, user_id=user_id, brand_id=link.brand_id) is None:
            session.add(Membership(brand_id=link.brand_id, user_id=user_id, role=link.role))
        if name.strip():
            user.name = name.strip()
        accounts.set_password(session=session, user=user, password=password)
    audit.record(
        session=session,
        brand_id=link.brand_id,
        actor=f"user:{user.email}",
        action="member.join",
        subject=user.email,
        after={"role": link.role.value},
    )
    return user


def _lock_owners(session: Session, brand_id: int) -> int:
    """The brand's owner count, with the brand row locked so that two owners stepping down at
    once cannot leave it with none."""
    session.exec(select(Brand).where(Brand.id == brand_id).with_for_update()).one()
    return session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.brand_id == brand_id, Membership.role == Role.owner)
    ).one()


def change_role(
    *, session: Session, brand_id: int, membership_id: int, role: Role, actor: str
) -> Member:
    """Give a member another role; the brand's last owner stays an owner."""
    owners = _lock_owners(session, brand_id)
    found = member(session=session, brand_id=brand_id, membership_id=membership_id)
    before = found.membership.role
    if before == Role.owner and role != Role.owner and owners <= 1:
        raise PeopleError("last_owner", "role")
    found.membership.role = role
    session.add(found.membership)
    session.flush()
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="member.role",
        subject=found.user.email,
        before={"role": before.value},
        after={"role": role.value},
    )
    return found


def remove_member(*, session: Session, brand_id: int, membership_id: int, actor: str) -> Member:
    """Take a member out of the brand (their account stays for their other brands); never the last owner."""
    owners = _lock_owners(session, brand_id)
    found = member(session=session, brand_id=brand_id, membership_id=membership_id)
    if found.membership.role == Role.owner and owners <= 1:
        raise PeopleError("last_owner", "role")
    session.delete(found.membership)
    session.flush()
    audit.record(
        session=session,
        brand_id=brand_id,
        actor=actor,
        action="member.remove",
        subject=found.user.email,
        before={"role": found.membership.role.value},
    )
    return found


@dataclass(frozen=True)
class ResetRequest:
    """The links to mail (one per account of the email; none when it has none), or throttling."""

    links: list[tuple[MerchantUser, str]]
    retry_after: int = 0


def request_password_reset(
    *, session: Session, email: str, address: str, secret_key: str, now: datetime
) -> ResetRequest:
    """Reset links for the accounts of ``email``, unless this email or address asked too often.

    Every request counts against the limits whether or not the email has an account, and the
    caller answers the same either way, so the form does not reveal who has an account.
    """
    email = accounts.normalize_email(email)
    for scope, key, limit in (
        (RESET_EMAIL_SCOPE, email, RESETS_PER_EMAIL),
        (RESET_ADDRESS_SCOPE, address, RESETS_PER_ADDRESS),
    ):
        verdict = throttle.check(
            session=session, scope=scope, key=key, limit=limit, window=RESET_WINDOW, now=now
        )
        if not verdict.allowed:
            return ResetRequest(links=[], retry_after=verdict.retry_after)
    for scope, key in ((RESET_EMAIL_SCOPE, email), (RESET_ADDRESS_SCOPE, address)):
        throttle.record_failure(session=session, scope=scope, key=key, window=RESET_WINDOW, now=now)
    users = session.exec(select(MerchantUser).where(MerchantUser.email == email)).all()
    made = []
    for user in users:
        _link, token = links.create(
            session=session,
            secret_key=secret_key,
            purpose=LinkPurpose.password_reset,
            email=email,
            user_id=user.id,
            now=now,
        )
        made.append((user, token))
    return ResetRequest(links=made)


def reset_password(
    *, session: Session, link: OneTimeLink, password: str, now: datetime
) -> MerchantUser:
    """Set the new password (signing the user out everywhere) and use up the link."""
    user = session.get(MerchantUser, link.user_id)
    if user is None or not links.use(session=session, link=link, now=now):
        raise PeopleError("link_used")
    accounts.set_password(session=session, user=user, password=password)
    for brand in accounts.brands_of(session=session, user=user):
        audit.record(
            session=session,
            brand_id=brand.id,
            actor=f"user:{user.email}",
            action="user.password_reset",
            subject=user.email,
        )
    return user
