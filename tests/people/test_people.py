"""People: roles enforced on every merchant route, invitations and password resets by one-time
links, the last owner kept, brand switching for operators, the audit log, and the CLI."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlmodel import select

from postpurchase.db import get_db
from postpurchase.models import AuditEntry, Membership, MerchantUser, Role
from tests.people.conftest import Shop, csrf, link_in

NEW_PASSWORD = "a brand new passphrase"

#: (method, path, form): one request per kind of merchant action: looking, changing a brand's
#: data (any feature), managing people.
LOOK = [("GET", "/merchant/"), ("GET", "/merchant/people"), ("GET", "/merchant/audit")]
CHANGE_DATA = ("POST", "/merchant/messages/retry")
MANAGE_PEOPLE = ("POST", "/merchant/people/invite")


def _post(client: FlaskClient, path: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf(client, "/merchant/"), **form})


def _entries(shop: Shop, action: str) -> list[AuditEntry]:
    with shop.app.app_context():
        s = get_db(shop.app).session()
        rows = list(s.exec(select(AuditEntry).where(AuditEntry.action == action)).all())
        s.close()
    return rows


def _membership_id(shop: Shop, email: str, brand_id: int) -> int:
    with shop.app.app_context():
        s = get_db(shop.app).session()
        user = s.exec(select(MerchantUser).where(MerchantUser.email == email)).one()
        found = s.exec(
            select(Membership).where(Membership.user_id == user.id, Membership.brand_id == brand_id)
        ).one()
        s.close()
    assert found.id is not None
    return found.id


# Roles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "changes_data", "manages_people"),
    [
        ("owner@acme.example", True, True),
        ("staff@acme.example", True, False),
        ("viewer@acme.example", False, False),
    ],
)
def test_roles_matrix_of_members(
    shop: Shop, inbox, email: str, changes_data: bool, manages_people: bool
) -> None:
    client = shop.sign_in(email)
    for method, path in LOOK:
        assert client.open(path, method=method).status_code == 200, path
    change = _post(client, CHANGE_DATA[1])
    assert (change.status_code < 400) is changes_data, change.status_code
    manage = _post(client, MANAGE_PEOPLE[1], email="new@acme.example", role="staff")
    assert (manage.status_code < 400) is manages_people, manage.status_code


@pytest.mark.parametrize(
    ("installation_role", "changes_data", "manages_people"),
    [(Role.owner, True, True), (Role.staff, True, False), (Role.read_only, False, False)],
)
def test_roles_matrix_of_installation_operators_in_a_brand_they_are_not_member_of(
    shop: Shop, inbox, installation_role: Role, changes_data: bool, manages_people: bool
) -> None:
    shop.add_user(
        "op@3pl.example", Role.staff, brand=shop.other, installation_role=installation_role
    )
    client = shop.sign_in("op@3pl.example")
    _post(client, "/merchant/brand", brand="acme")
    assert "Acme Coffee" in client.get("/merchant/").get_data(as_text=True)
    change = _post(client, CHANGE_DATA[1])
    assert (change.status_code < 400) is changes_data, change.status_code
    manage = _post(client, MANAGE_PEOPLE[1], email="new@acme.example", role="staff")
    assert (manage.status_code < 400) is manages_people, manage.status_code


def test_read_only_post_is_a_403_page_that_says_why(shop: Shop) -> None:
    client = shop.sign_in("viewer@acme.example")
    response = _post(client, CHANGE_DATA[1])
    assert response.status_code == 403
    assert "「閲覧のみ」です" in response.get_data(as_text=True)  # the brand's language


def test_read_only_member_sees_no_people_forms(shop: Shop) -> None:
    page = shop.sign_in("viewer@acme.example").get("/merchant/people").get_data(as_text=True)
    assert "staff@acme.example" in page
    assert "/merchant/people/invite" not in page


def test_a_user_removed_from_the_brand_loses_it_on_the_next_request(shop: Shop) -> None:
    staff = shop.sign_in("staff@acme.example")
    owner = shop.sign_in("owner@acme.example")
    member_id = _membership_id(shop, "staff@acme.example", shop.acme.brand_id)
    assert _post(owner, f"/merchant/people/{member_id}/remove").status_code == 302
    assert staff.get("/merchant/people").status_code == 302  # no brand left: back to sign-in


def test_existing_users_keep_working_as_owners(shop: Shop) -> None:
    """Users made before memberships existed are owners of their brand (see the migration)."""
    page = shop.sign_in("owner@other.example").get("/merchant/people").get_data(as_text=True)
    assert "/merchant/people/invite" in page


# Brand switching -------------------------------------------------------------------------------


def test_operator_switches_brand_and_sees_the_other_brands_people(shop: Shop) -> None:
    user_id = shop.add_user("op@3pl.example", Role.staff, brand=shop.acme)
    with shop.app.app_context():
        s = get_db(shop.app).session()
        s.add(Membership(brand_id=shop.other.brand_id, user_id=user_id, role=Role.read_only))
        s.commit()
        s.close()
    client = shop.sign_in("op@3pl.example")
    assert "staff@acme.example" in client.get("/merchant/people").get_data(as_text=True)
    assert _post(client, "/merchant/brand", brand="other").status_code == 302
    page = client.get("/merchant/people").get_data(as_text=True)
    assert "owner@other.example" in page
    assert "staff@acme.example" not in page


def test_switching_to_a_brand_without_membership_is_a_404(shop: Shop) -> None:
    client = shop.sign_in("owner@acme.example")
    assert _post(client, "/merchant/brand", brand="other").status_code == 404
    assert "Acme Coffee" in client.get("/merchant/").get_data(as_text=True)


def test_switch_is_recorded_in_the_target_brands_audit_log(shop: Shop) -> None:
    shop.add_user("op@3pl.example", Role.staff, brand=shop.other, installation_role=Role.read_only)
    client = shop.sign_in("op@3pl.example")
    _post(client, "/merchant/brand", brand="acme")
    assert [e.brand_id for e in _entries(shop, "user.switch_brand")] == [shop.acme.brand_id]


# Invitations -----------------------------------------------------------------------------------


def test_invitation_email_link_sets_the_password_and_joins_with_the_role(shop: Shop, inbox) -> None:
    owner = shop.sign_in("owner@acme.example")
    response = _post(owner, "/merchant/people/invite", email="New@Acme.example", role="read_only")
    assert response.status_code == 302
    path = link_in(inbox, "new@acme.example")
    guest = shop.app.test_client()
    assert "Acme Coffee" in guest.get(path).get_data(as_text=True)
    joined = guest.post(
        path,
        data={"csrf_token": csrf(guest, path), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert joined.status_code == 302
    assert guest.get("/merchant/people").status_code == 200
    shop.sign_in("new@acme.example", NEW_PASSWORD)
    assert _post(guest, CHANGE_DATA[1]).status_code == 403  # read-only, as invited


def test_invitation_link_works_once(shop: Shop, inbox) -> None:
    _post(
        shop.sign_in("owner@acme.example"),
        "/merchant/people/invite",
        email="n@x.example",
        role="staff",
    )
    path = link_in(inbox, "n@x.example")
    guest = shop.app.test_client()
    form = {"csrf_token": csrf(guest, path), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert guest.post(path, data=form).status_code == 302
    again = shop.app.test_client()
    assert again.get(path).status_code == 404


def test_invitation_link_expires_after_seven_days(shop: Shop, inbox, clock) -> None:
    _post(
        shop.sign_in("owner@acme.example"),
        "/merchant/people/invite",
        email="n@x.example",
        role="staff",
    )
    path = link_in(inbox, "n@x.example")
    clock.advance(days=7)
    assert shop.app.test_client().get(path).status_code == 404


def test_a_forged_invitation_token_is_a_404(shop: Shop, inbox) -> None:
    _post(
        shop.sign_in("owner@acme.example"),
        "/merchant/people/invite",
        email="n@x.example",
        role="staff",
    )
    path = link_in(inbox, "n@x.example")
    assert shop.app.test_client().get(path[:-3] + "abc").status_code == 404


def test_withdrawn_invitation_link_is_a_404(shop: Shop, inbox) -> None:
    owner = shop.sign_in("owner@acme.example")
    _post(owner, "/merchant/people/invite", email="n@x.example", role="staff")
    path = link_in(inbox, "n@x.example")
    invitation_id = _entries(shop, "member.invite")[0].id
    assert invitation_id
    from postpurchase.models import OneTimeLink

    with shop.app.app_context():
        s = get_db(shop.app).session()
        link_id = s.exec(select(OneTimeLink.id)).one()
        s.close()
    assert _post(owner, f"/merchant/people/invitations/{link_id}/revoke").status_code == 302
    assert shop.app.test_client().get(path).status_code == 404


def test_inviting_a_member_again_is_refused_next_to_the_email_field(shop: Shop, inbox) -> None:
    owner = shop.sign_in("owner@acme.example")
    response = _post(owner, "/merchant/people/invite", email="staff@acme.example", role="staff")
    assert response.status_code == 400
    assert 'id="invite-email-error"' in response.get_data(as_text=True)
    assert inbox.messages == []


def test_invalid_email_is_refused_next_to_the_field(shop: Shop, inbox) -> None:
    response = _post(
        shop.sign_in("owner@acme.example"), "/merchant/people/invite", email="nope", role="staff"
    )
    assert response.status_code == 400
    assert "name@example.com" in response.get_data(as_text=True)


def test_short_password_on_the_invitation_page_is_refused_next_to_the_field(
    shop: Shop, inbox
) -> None:
    _post(
        shop.sign_in("owner@acme.example"),
        "/merchant/people/invite",
        email="n@x.example",
        role="staff",
    )
    path = link_in(inbox, "n@x.example")
    guest = shop.app.test_client()
    response = guest.post(
        path, data={"csrf_token": csrf(guest, path), "password": "short", "confirm": "short"}
    )
    assert response.status_code == 400
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert guest.get(path).status_code == 200  # the link is not used up


def test_an_existing_account_invited_to_another_brand_joins_it(shop: Shop, inbox) -> None:
    _post(
        shop.sign_in("owner@other.example"),
        "/merchant/people/invite",
        email="staff@acme.example",
        role="staff",
    )
    path = link_in(inbox, "staff@acme.example")
    guest = shop.app.test_client()
    guest.post(
        path,
        data={"csrf_token": csrf(guest, path), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    client = shop.sign_in("staff@acme.example", NEW_PASSWORD)
    assert "Other Tea" in client.get("/merchant/").get_data(as_text=True)
    assert _post(client, "/merchant/brand", brand="acme").status_code == 302


# Password reset --------------------------------------------------------------------------------


def test_password_reset_link_sets_a_new_password_and_ends_sessions(shop: Shop, inbox) -> None:
    signed_in = shop.sign_in("staff@acme.example")
    guest = shop.app.test_client()
    guest.post(
        "/merchant/password-reset", data={"csrf_token": csrf(guest), "email": "staff@acme.example"}
    )
    path = link_in(inbox, "staff@acme.example")
    done = guest.post(
        path,
        data={"csrf_token": csrf(guest, path), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert done.status_code == 200
    assert signed_in.get("/merchant/people").status_code == 302
    shop.sign_in("staff@acme.example", NEW_PASSWORD)
    assert guest.get(path).status_code == 404  # used once
    assert len(_entries(shop, "user.password_reset")) == 1


def test_password_reset_link_expires_after_an_hour(shop: Shop, inbox, clock) -> None:
    guest = shop.app.test_client()
    guest.post(
        "/merchant/password-reset", data={"csrf_token": csrf(guest), "email": "staff@acme.example"}
    )
    path = link_in(inbox, "staff@acme.example")
    clock.advance(minutes=59)
    assert guest.get(path).status_code == 200
    clock.advance(minutes=1)
    assert guest.get(path).status_code == 404


def test_password_reset_answers_the_same_for_unknown_emails(shop: Shop, inbox) -> None:
    guest = shop.app.test_client()
    known = guest.post(
        "/merchant/password-reset", data={"csrf_token": csrf(guest), "email": "staff@acme.example"}
    )
    unknown = guest.post(
        "/merchant/password-reset", data={"csrf_token": csrf(guest), "email": "nobody@acme.example"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    assert [m["To"] for m in inbox.messages] == ["staff@acme.example"]


def test_password_reset_is_throttled_per_email(shop: Shop, inbox) -> None:
    guest = shop.app.test_client()
    statuses = [
        guest.post(
            "/merchant/password-reset",
            data={"csrf_token": csrf(guest), "email": "nobody@x.example"},
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_password_reset_mismatch_is_refused_next_to_the_confirmation(shop: Shop, inbox) -> None:
    guest = shop.app.test_client()
    guest.post(
        "/merchant/password-reset", data={"csrf_token": csrf(guest), "email": "staff@acme.example"}
    )
    path = link_in(inbox, "staff@acme.example")
    response = guest.post(
        path,
        data={
            "csrf_token": csrf(guest, path),
            "password": NEW_PASSWORD,
            "confirm": "something else!",
        },
    )
    assert response.status_code == 400
    assert 'id="confirm-error"' in response.get_data(as_text=True)


# Last owner and role changes ----------------------------------------------------------------


def test_the_last_owner_cannot_step_down(shop: Shop) -> None:
    owner = shop.sign_in("owner@acme.example")
    member_id = _membership_id(shop, "owner@acme.example", shop.acme.brand_id)
    response = _post(owner, f"/merchant/people/{member_id}/role", role="staff")
    assert response.status_code == 400
    assert f'id="role-{member_id}-error"' in response.get_data(as_text=True)


def test_the_last_owner_cannot_be_removed(shop: Shop) -> None:
    owner = shop.sign_in("owner@acme.example")
    member_id = _membership_id(shop, "owner@acme.example", shop.acme.brand_id)
    assert _post(owner, f"/merchant/people/{member_id}/remove").status_code == 400


def test_an_owner_can_step_down_when_another_owner_remains(shop: Shop) -> None:
    owner = shop.sign_in("owner@acme.example")
    staff_id = _membership_id(shop, "staff@acme.example", shop.acme.brand_id)
    own_id = _membership_id(shop, "owner@acme.example", shop.acme.brand_id)
    assert _post(owner, f"/merchant/people/{staff_id}/role", role="owner").status_code == 302
    assert _post(owner, f"/merchant/people/{own_id}/role", role="staff").status_code == 302
    (entry,) = [e for e in _entries(shop, "member.role") if e.subject == "owner@acme.example"]
    assert (entry.before, entry.after) == ({"role": "owner"}, {"role": "staff"})


def test_another_brands_member_id_is_a_404(shop: Shop) -> None:
    owner = shop.sign_in("owner@acme.example")
    theirs = _membership_id(shop, "owner@other.example", shop.other.brand_id)
    assert _post(owner, f"/merchant/people/{theirs}/role", role="staff").status_code == 404
    assert _post(owner, f"/merchant/people/{theirs}/remove").status_code == 404


# Audit log -----------------------------------------------------------------------------------


def test_audit_log_lists_sign_ins_of_the_brand_only(shop: Shop) -> None:
    shop.sign_in("owner@other.example")
    page = shop.sign_in("owner@acme.example").get("/merchant/audit").get_data(as_text=True)
    assert "user:owner@acme.example" in page
    assert "owner@other.example" not in page


def test_audit_log_pages_with_a_cursor(shop: Shop, clock) -> None:
    from postpurchase import audit

    with shop.app.app_context():
        s = get_db(shop.app).session()
        for n in range(60):
            audit.record(
                session=s,
                brand_id=shop.acme.brand_id,
                actor="cli",
                action="test.step",
                subject=f"step-{n:02d}",
            )
        s.commit()
        s.close()
    client = shop.sign_in("owner@acme.example")
    first = client.get("/merchant/audit").get_data(as_text=True)
    assert "step-59" in first and "step-05" not in first
    older = first.split('href="/merchant/audit?before=')[1].split('"')[0]
    second = client.get(f"/merchant/audit?before={older}").get_data(as_text=True)
    assert "step-05" in second and "step-59" not in second


def test_audit_log_times_are_in_the_brands_zone(shop: Shop) -> None:
    # The pinned clock is 01:00 UTC: 10:00 in Tokyo.
    page = shop.sign_in("owner@acme.example").get("/merchant/audit?lang=en").get_data(as_text=True)
    assert "10:00" in page


# CLI -------------------------------------------------------------------------------------------


def test_cli_invite_list_role_remove(shop: Shop, inbox, runner) -> None:
    from postpurchase.cli import users

    invited = runner.invoke(
        users, ["invite", "--brand", "acme", "--email", "cli@acme.example", "--role", "staff"]
    )
    assert invited.exit_code == 0, invited.output
    assert "https://pp.example/merchant/invitation/" in invited.output
    assert link_in(inbox, "cli@acme.example")
    listed = runner.invoke(users, ["list", "--brand", "acme"])
    assert "viewer@acme.example" in listed.output and "cli@acme.example" in listed.output
    role = runner.invoke(
        users, ["role", "--brand", "acme", "--email", "viewer@acme.example", "--role", "staff"]
    )
    assert role.exit_code == 0, role.output
    removed = runner.invoke(users, ["remove", "--brand", "acme", "--email", "viewer@acme.example"])
    assert removed.exit_code == 0, removed.output
    assert "viewer@acme.example" not in runner.invoke(users, ["list", "--brand", "acme"]).output
    assert {e.action for e in _entries(shop, "member.remove")} == {"member.remove"}


def test_cli_refuses_to_remove_the_last_owner(shop: Shop, runner) -> None:
    from postpurchase.cli import users

    result = runner.invoke(users, ["remove", "--brand", "acme", "--email", "owner@acme.example"])
    assert result.exit_code != 0
    assert "last owner" in result.output


def test_cli_role_of_a_non_member_names_it(shop: Shop, runner) -> None:
    from postpurchase.cli import users

    result = runner.invoke(
        users, ["role", "--brand", "other", "--email", "staff@acme.example", "--role", "owner"]
    )
    assert result.exit_code != 0
    assert "not a member" in result.output
