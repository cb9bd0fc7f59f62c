"""People pages: members and invitations (owners manage, everyone looks), the audit log, and the
public pages behind the one-time links (accept an invitation, reset a password)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_skeleton
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from werkzeug.exceptions import NotFound

from postpurchase import audit
from postpurchase.accounts import id_of
from postpurchase.clock import utcnow
from postpurchase.db import get_session
from postpurchase.i18n import lazy_gettext, to_local
from postpurchase.models import Brand, LinkPurpose, OneTimeLink, Role
from postpurchase.people import links, mail
from postpurchase.people.operations import (
    MAX_NAME,
    MemberNotFound,
    PeopleError,
    accept_invitation,
    change_role,
    invite,
    member,
    members,
    password_problem,
    pending_invitations,
    remove_member,
    request_password_reset,
    reset_password,
    revoke_invitation,
)
from postpurchase.web.merchant import (
    actor,
    check_csrf,
    current_merchant_role,
    current_merchant_user,
    require_merchant,
    start_session,
)
from postpurchase.web.params import Params
from postpurchase.web.throttling import client_address, refuse

merchant_people = Blueprint("merchant_people", __name__, url_prefix="/merchant")
people_links = Blueprint("people_links", __name__, url_prefix="/merchant")

AUDIT_PAGE = 50

ROLE_LABELS = {
    Role.owner: lazy_gettext("Owner"),
    Role.staff: lazy_gettext("Staff"),
    Role.read_only: lazy_gettext("Read-only"),
}

#: What each refusal code says, next to the field it concerns.
MESSAGES = {
    "required": lazy_gettext("Enter this field."),
    "invalid_email": lazy_gettext("Enter an email address like name@example.com."),
    "invalid_role": lazy_gettext("Choose one of the roles."),
    "already_member": lazy_gettext("This person is already a member of this brand."),
    "last_owner": lazy_gettext("The brand's last owner cannot stop being an owner."),
    "password_short": lazy_gettext("Use at least 10 characters."),
    "password_long": lazy_gettext("Use at most 200 characters."),
    "password_mismatch": lazy_gettext("The two passwords are not the same."),
    "name_long": lazy_gettext("Use at most 200 characters."),
    "link_used": lazy_gettext("This link has already been used."),
}

ACTION_LABELS = {
    "user.sign_in": lazy_gettext("Signed in"),
    "user.sign_out": lazy_gettext("Signed out"),
    "user.switch_brand": lazy_gettext("Switched to this brand"),
    "user.password_reset": lazy_gettext("Reset their password"),
    "member.invite": lazy_gettext("Invited"),
    "member.invite_revoke": lazy_gettext("Withdrew the invitation of"),
    "member.join": lazy_gettext("Joined"),
    "member.role": lazy_gettext("Changed the role of"),
    "member.remove": lazy_gettext("Removed"),
}


def role_label(role: Role | str | None) -> str:
    return str(ROLE_LABELS[Role(role)]) if role in set(Role) else str(role or "")


def _role(raw: str) -> Role | None:
    return Role(raw) if raw in {role.value for role in Role} else None


def _people_page(
    brand: Brand, *, errors: dict[str, str] | None = None, status: int = 200, **extra: Any
) -> Any:
    db = get_session()
    return (
        render_template(
            "pages/people/people.html",
            brand=brand,
            members=members(session=db, brand_id=id_of(brand)),
            invitations=pending_invitations(session=db, brand_id=id_of(brand), now=utcnow()),
            roles=list(Role),
            role_label=role_label,
            may_manage=current_merchant_role() == Role.owner,
            me=current_merchant_user(),
            errors={field: str(MESSAGES[code]) for field, code in (errors or {}).items()},
            form=request.form,
            **extra,
        ),
        status,
    )


@merchant_people.get("/people")
@require_merchant
def people(brand: Brand) -> Any:
    return _people_page(brand)


@merchant_people.post("/people/invite")
@require_merchant(may_change=Role.owner)
def invite_person(brand: Brand) -> Any:
    check_csrf()
    role = _role(request.form.get("role", ""))
    if role is None:
        return _people_page(brand, errors={"role": "invalid_role"}, status=400)
    db = get_session()
    email = request.form.get("email", "")
    try:
        link, token = invite(
            session=db,
            brand_id=id_of(brand),
            email=email,
            role=role,
            actor=actor(),
            secret_key=str(current_app.config["SECRET_KEY"]),
            now=utcnow(),
        )
    except PeopleError as exc:
        return _people_page(brand, errors={exc.field: exc.code}, status=400)
    db.commit()
    user = current_merchant_user()
    sent = mail.send_invitation(
        current_app,
        brand=brand,
        to=link.email,
        role=role,
        token=token,
        inviter=(user.name or user.email) if user else brand.name,
    )
    if not sent:  # the owner can hand the link over another way
        return _people_page(
            brand,
            unsent_link=mail.link_url(current_app, "people_links.accept_invitation_page", token),
            unsent_to=link.email,
        )
    return redirect(url_for("merchant_people.people", invited=link.email))


@merchant_people.post("/people/<int:member_id>/role")
@require_merchant(may_change=Role.owner)
def change_member_role(brand: Brand, member_id: int) -> Any:
    check_csrf()
    db = get_session()
    role = _role(request.form.get("role", ""))
    try:
        if role is None:
            member(session=db, brand_id=id_of(brand), membership_id=member_id)
            return _people_page(brand, errors={f"role-{member_id}": "invalid_role"}, status=400)
        change_role(
            session=db, brand_id=id_of(brand), membership_id=member_id, role=role, actor=actor()
        )
    except MemberNotFound:
        raise NotFound from None
    except PeopleError as exc:
        db.rollback()
        return _people_page(brand, errors={f"role-{member_id}": exc.code}, status=400)
    db.commit()
    return redirect(url_for("merchant_people.people"))


@merchant_people.post("/people/<int:member_id>/remove")
@require_merchant(may_change=Role.owner)
def remove_person(brand: Brand, member_id: int) -> Any:
    check_csrf()
    db = get_session()
    try:
        remove_member(session=db, brand_id=id_of(brand), membership_id=member_id, actor=actor())
    except MemberNotFound:
        raise NotFound from None
    except PeopleError as exc:
        db.rollback()
        return _people_page(brand, errors={f"role-{member_id}": exc.code}, status=400)
    db.commit()
    return redirect(url_for("merchant_people.people"))


@merchant_people.post("/people/invitations/<int:invitation_id>/revoke")
@require_merchant(may_change=Role.owner)
def revoke_person_invitation(brand: Brand, invitation_id: int) -> Any:
    check_csrf()
    db = get_session()
    try:
        revoke_invitation(
            session=db,
            brand_id=id_of(brand),
            invitation_id=invitation_id,
            actor=actor(),
            now=utcnow(),
        )
    except MemberNotFound:
        raise NotFound from None
    db.commit()
    return redirect(url_for("merchant_people.people"))


@merchant_people.get("/audit")
@require_merchant
def audit_log(brand: Brand) -> Any:
    before = Params(request.args).id("before")
    rows = audit.entries(
        session=get_session(), brand_id=id_of(brand), before_id=before, limit=AUDIT_PAGE + 1
    )
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    locale = str(get_locale())
    return render_template(
        "pages/people/audit.html",
        brand=brand,
        rows=[
            {
                "at": _when(row.at, brand.timezone, locale),
                "actor": row.actor,
                "action": str(ACTION_LABELS.get(row.action, row.action)),
                "subject": row.subject,
                "change": _change(row.before, row.after),
            }
            for row in rows
        ],
        next_before=rows[-1].id if more and rows else None,
        first_page=before is None,
    )


def _when(moment: datetime, timezone: str, locale: str) -> str:
    """``2026年11月20日 10:00`` in the brand's zone: the audit log spans years, so with the year."""
    local = to_local(moment, timezone)
    return f"{format_skeleton('yMMMd', local, locale=locale)} {format_skeleton('Hm', local, locale=locale)}"


def _change(before: Any, after: Any) -> str:
    """``old → new`` for an entry that changed a value; role codes in words."""

    def words(value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"role"}:
            return role_label(value["role"])
        return "" if value is None else str(value)

    if before is None and after is None:
        return ""
    if before is None:
        return words(after)
    return f"{words(before)} → {words(after)}"


# The pages behind the one-time links: no sign-in; the token is the credential.


def _link_or_404(purpose: LinkPurpose, token: str) -> OneTimeLink:
    link = links.find(
        session=get_session(),
        secret_key=str(current_app.config["SECRET_KEY"]),
        purpose=purpose,
        token=token,
        now=utcnow(),
    )
    if link is None:
        raise NotFound(
            str(lazy_gettext("This link is not valid: it has expired or was already used."))
        )
    return link


def _password_errors(form: Any, *, with_name: bool = False) -> dict[str, str]:
    errors: dict[str, str] = {}
    problem = password_problem(form.get("password", ""), form.get("confirm", ""))
    if problem:
        errors["confirm" if problem == "password_mismatch" else "password"] = problem
    if with_name and len(form.get("name", "")) > MAX_NAME:
        errors["name"] = "name_long"
    return errors


@people_links.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation_page(token: str) -> Any:
    link = _link_or_404(LinkPurpose.invitation, token)
    db = get_session()
    brand = db.get(Brand, link.brand_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        check_csrf()
        errors = _password_errors(request.form, with_name=True)
        if not errors:
            try:
                user = accept_invitation(
                    session=db,
                    link=link,
                    name=request.form.get("name", ""),
                    password=request.form["password"],
                    now=utcnow(),
                )
            except PeopleError:
                raise NotFound from None
            db.commit()
            start_session(user, link.brand_id)
            return redirect(url_for("merchant.home"))
    return render_template(
        "pages/people/accept.html",
        brand=brand,
        link=link,
        role_label=role_label,
        errors={field: str(MESSAGES[code]) for field, code in errors.items()},
    ), 400 if errors else 200


@people_links.route("/password-reset", methods=["GET", "POST"])
def forgot_password() -> Any:
    asked, error, status = False, None, 200
    if request.method == "POST":
        check_csrf()
        email = request.form.get("email", "")
        db = get_session()
        result = request_password_reset(
            session=db,
            email=email,
            address=client_address(),
            secret_key=str(current_app.config["SECRET_KEY"]),
            now=utcnow(),
        )
        db.commit()
        if result.retry_after:
            error, status = refuse(result.retry_after), 429
        else:
            asked = True
            for user, token in result.links:
                brand = db.get(Brand, user.brand_id)
                if brand is not None:
                    mail.send_password_reset(
                        current_app,
                        brand=brand,
                        to=user.email,
                        token=token,
                        locale=str(get_locale()),
                    )
    return render_template("pages/people/forgot.html", brand=None, asked=asked, error=error), status


@people_links.route("/password-reset/<token>", methods=["GET", "POST"])
def reset_password_page(token: str) -> Any:
    link = _link_or_404(LinkPurpose.password_reset, token)
    errors: dict[str, str] = {}
    if request.method == "POST":
        check_csrf()
        errors = _password_errors(request.form)
        if not errors:
            db = get_session()
            try:
                reset_password(
                    session=db, link=link, password=request.form["password"], now=utcnow()
                )
            except PeopleError:
                raise NotFound from None
            db.commit()
            return render_template("pages/people/reset_done.html", brand=None)
    return render_template(
        "pages/people/reset.html",
        brand=None,
        errors={field: str(MESSAGES[code]) for field, code in errors.items()},
    ), 400 if errors else 200
