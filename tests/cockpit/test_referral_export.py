"""The analyst's referral list (cockpit/exports.py): no identifiers, days instead of moments, and
every (submission day, booked location) cell at least 5 referrals strong; smaller cells are
generalised to the region, and left out when even that stays below 5."""

from datetime import date

import pytest

from cockpit.exports import K_ANONYMITY, generalised_label, k_anonymous
from referrals.models import OfferState, State
from tests.cockpit.conftest import at, make_offer, make_referral, make_stay
from tests.cockpit.test_kpi_views import REFERRAL_EXPORT, client_for, csv_rows

PERIOD = {"from": "2026-03-01", "to": "2026-03-20", "format": "csv"}
BEEKDAL, AARDENBURG = "Locatie Beekdal", "Locatie Aardenburg"


def _booked(world, key: str, n: int, *, day: int = 3, first: int = 0) -> list:
    """`n` referrals submitted on `day` March, booked at location `key` (a or b), admitted."""
    capacity = world.cap[key, "elv_hoog"]
    referrals = []
    for i in range(first, first + n):
        referral = make_referral(world, created_at=at(day, 8, i), state=State.ADMITTED, name=f"Patiënt {key}{i}")
        make_offer(world, referral, capacity, sent_after=10, answered_after=30, state=OfferState.ACCEPTED)
        make_stay(referral, capacity, admitted_at=at(day, 14, i), days=4, destination="deceased")
        referrals.append(referral)
    return referrals


@pytest.fixture
def day_world(world):
    """3 March: five referrals booked at Beekdal (a cell of 5), four at Aardenburg (a cell of 4)."""
    world.referrals = {"b": _booked(world, "b", 5), "a": _booked(world, "a", 4, first=5)}
    return world


def _analyst_rows(world) -> tuple[list[str], list[list[str]], str]:
    response = client_for(world.analyst).get(REFERRAL_EXPORT, PERIOD)
    assert response.status_code == 200
    rows = csv_rows(response)
    return rows[0], rows[1:], response.content.decode("utf-8-sig")


def test_a_location_with_five_referrals_on_a_day_is_shown_and_one_with_four_is_not(day_world):
    header, rows, text = _analyst_rows(day_world)
    location = header.index("Location (booked)")
    assert [row[location] for row in rows] == [BEEKDAL] * 5
    assert AARDENBURG not in text and "Aardenburg Zorg" not in text


def test_a_small_cell_is_shown_generalised_once_its_day_has_five_generalised_referrals(day_world):
    make_referral(day_world, created_at=at(3, 18), state=State.SEARCHING, name="Niet geplaatst")
    header, rows, text = _analyst_rows(day_world)
    location, provider = header.index("Location (booked)"), header.index("Provider (booked)")
    assert sorted(row[location] for row in rows) == sorted([BEEKDAL] * 5 + [generalised_label()] * 5)
    assert {row[provider] for row in rows if row[location] != BEEKDAL} == {generalised_label()}
    assert AARDENBURG not in text and "Aardenburg Zorg" not in text


def test_the_analyst_gets_days_and_no_identifier_moment_or_free_text(day_world):
    header, rows, text = _analyst_rows(day_world)
    assert header[0] == "Submitted on"
    assert {"Submitted at", "Admitted at", "Discharged at", "Referral number", "Patient name"}.isdisjoint(header)
    assert "Reason (cancelled or redirected)" not in header
    assert {row[0] for row in rows} == {"2026-03-03"}
    assert "Patiënt" not in text and ":" not in "".join(row[0] for row in rows)
    assert not any(str(referral.pk) == cell for referral in day_world.referrals["b"] for row in rows for cell in row)


def test_coordinators_keep_the_detailed_list(day_world):
    rows = csv_rows(client_for(day_world.coordinator).get(REFERRAL_EXPORT, PERIOD))
    header = rows[0]
    assert header[:3] == ["Referral number", "Patient name", "Submitted at"]
    assert len(rows) == 1 + 9
    assert AARDENBURG in {row[header.index("Location (booked)")] for row in rows}


def _row(day: int, location: str) -> dict:
    return {"submitted_on": date(2026, 3, day), "provider": f"{location} Zorg", "location": location}


def test_k_anonymity_at_the_boundary_of_five():
    assert K_ANONYMITY == 5
    five, four = [_row(3, "B")] * 5, [_row(3, "A")] * 4
    kept = k_anonymous([dict(row) for row in five + four])
    assert [row["location"] for row in kept] == ["B"] * 5
    kept = k_anonymous([dict(row) for row in four + [_row(3, "")]])
    assert [row["location"] for row in kept] == [generalised_label()] * 5
    assert k_anonymous([dict(row) for row in [_row(3, "A")] * 4 + [_row(4, "")]]) == []
