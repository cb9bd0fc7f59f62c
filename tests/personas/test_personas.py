"""Personas learned from a seeded synthetic population: found again, described, assigned."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from flask import Flask
from sqlmodel import Session, select

from postpurchase.brands import NewBrand
from postpurchase.db import get_db
from postpurchase.models import Customer, CustomerProfile, Order, OrderLine, Persona
from postpurchase.personas import model
from postpurchase.personas.cli import personas
from postpurchase.personas.operations import fit_personas
from postpurchase.profiles import refresh_brand_profiles, stored_profile
from tests.conftest import PINNED_NOW
from tests.personas.population import seed_population


@pytest.fixture
def fitted(app: Flask, brand: NewBrand) -> tuple[Session, dict[int, str]]:
    with app.app_context():
        s = get_db(app).session()
        groups = seed_population(s, brand.brand_id)
        refresh_brand_profiles(session=s, brand_id=brand.brand_id, now=PINNED_NOW)
        fit_personas(session=s, brand_id=brand.brand_id, actor="test", now=PINNED_NOW)
        s.commit()
        yield s, groups
        s.close()


def _personas(s: Session, brand_id: int) -> list[Persona]:
    return list(s.exec(select(Persona).where(Persona.brand_id == brand_id).order_by(Persona.key)))


def test_the_three_kinds_of_customers_become_three_personas_by_silhouette(fitted, brand) -> None:
    s, _ = fitted
    personas = _personas(s, brand.brand_id)
    tried = personas[0].space["tried"]
    assert len(personas) == 3
    assert max(tried, key=tried.get) == "3"


def test_each_persona_is_described_from_its_centroid_in_english_and_japanese(fitted, brand) -> None:
    s, _ = fitted
    described = {(p.description_en, p.description_ja) for p in _personas(s, brand.brand_id)}
    # The brand names none of its categories: their codes are the words.
    assert described == {
        (
            "Buys tea again and again, never returns, prefers LINE",
            "teaをくり返し購入、返品なし、LINEを好む",
        ),
        (
            "Bought apparel once, often returns, prefers email",
            "apparelを一度だけ購入、返品が多い、メールを好む",
        ),
        (
            "Buys coffee now and then, never returns, prefers email",
            "coffeeをときどき購入、返品なし、メールを好む",
        ),
    }


def test_every_customer_is_assigned_to_the_persona_of_their_kind(fitted, brand) -> None:
    s, groups = fitted
    pairs = Counter(
        (groups[p.customer_id], p.persona)
        for p in s.exec(select(CustomerProfile).where(CustomerProfile.brand_id == brand.brand_id))
    )
    # one persona per kind, and no customer in another kind's persona
    assert len(pairs) == 3
    assert len({persona for _, persona in pairs}) == 3


def test_fitting_again_gives_the_same_personas(fitted, brand) -> None:
    s, _ = fitted
    before = [(p.key, p.size, p.description_en) for p in _personas(s, brand.brand_id)]
    fit_personas(session=s, brand_id=brand.brand_id, actor="test", now=PINNED_NOW)
    assert [(p.key, p.size, p.description_en) for p in _personas(s, brand.brand_id)] == before


def test_a_new_customer_is_assigned_the_nearest_persona_when_their_profile_is_refreshed(
    fitted, brand
) -> None:
    s, _ = fitted
    customer = Customer(brand_id=brand.brand_id, external_id="newcomer")
    s.add(customer)
    s.flush()
    for n in range(5):
        order = Order(
            brand_id=brand.brand_id,
            external_id=f"new{n}",
            number=f"#N{n}",
            customer_id=customer.id,
            placed_at=PINNED_NOW - timedelta(days=10 + n),
            total_amount=4000,
        )
        s.add(order)
        s.flush()
        s.add(
            OrderLine(
                brand_id=brand.brand_id,
                order_id=order.id,
                line_key="1",
                sku="TEA-1",
                category="tea",
            )
        )
    refresh_brand_profiles(session=s, brand_id=brand.brand_id, now=PINNED_NOW)
    profile = stored_profile(session=s, brand_id=brand.brand_id, customer_id=customer.id)
    tea = next(p for p in _personas(s, brand.brand_id) if p.centroid["cat:tea"] > 0.5)
    assert profile is not None and profile.persona == tea.key


def test_too_few_customers_refuse_to_make_personas(app: Flask, brand: NewBrand) -> None:
    with app.app_context():
        s = get_db(app).session()
        with pytest.raises(model.NotEnoughCustomers, match="0 customers with orders"):
            fit_personas(session=s, brand_id=brand.brand_id, actor="test", now=PINNED_NOW)
        s.close()


def test_personas_fit_command_prints_each_persona_and_the_criterion(
    app: Flask, brand: NewBrand, runner
) -> None:
    with app.app_context():
        s = get_db(app).session()
        seed_population(s, brand.brand_id)
        s.commit()
        s.close()
    result = runner.invoke(personas, ["fit", "--brand", brand.slug])
    assert result.exit_code == 0, result.output
    assert "Buys tea again and again, never returns, prefers LINE" in result.output
    assert "k=3 (best silhouette" in result.output


def test_personas_fit_command_names_an_unknown_brand(runner, brand) -> None:
    result = runner.invoke(personas, ["fit", "--brand", "nope"])
    assert result.exit_code != 0
    assert "no brand 'nope'" in result.output


def test_the_portrait_follows_the_centroid() -> None:
    portrait = model.portrait(
        {"orders": 1.0, "return_rate": 0.1, "recency_days": 300, "cat:tea": 0.2, "cat:cups": 0.3},
        None,
    )
    assert portrait == model.Portrait(
        frequency=model.Frequency.once,
        category=None,
        returning=model.Returning.sometimes,
        lapsed=True,
        channel=None,
    )
