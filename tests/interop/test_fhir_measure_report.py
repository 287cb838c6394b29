"""MeasureReport: a region's (or a location's) bed capacity per product in the SANER style, now
and for a past day rebuilt from the append-only CapacityChange history."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role
from beds.services import capacity_hold, capacity_update
from interop.fhir import codes
from tests.interop.conftest import FHIR, entries, fhir_body, outcome, token_client

pytestmark = pytest.mark.django_db


def counts(report: dict, product_code: str) -> dict[str, int]:
    [group] = [g for g in report["group"] if g["code"]["coding"][0]["code"] == product_code]
    assert group["code"]["coding"][0]["system"] == codes.system("product")
    result = {}
    for population in group["population"]:
        [coding] = population["code"]["coding"]
        assert coding["system"] == codes.system("bed-capacity")
        result[coding["code"]] = population["count"]
    return result


def local(day, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def test_report_now_counts_every_population_per_product(world):
    api = token_client(world.users[Role.ANALYST])

    bundle = fhir_body(api.get(f"{FHIR}/MeasureReport"))

    [report] = entries(bundle)
    assert report["id"] == f"region-{world.region.pk}"
    assert report["status"] == "complete" and report["type"] == "summary"
    assert report["measure"] == codes.measure_url()
    assert report["subject"] == {
        "identifier": {"system": codes.region_system(), "value": "zuid"},
        "display": "Zuid-Limburg",
    }
    assert counts(report, "elv_hoog") == {
        "total": 3 * 6 + 5,
        "available": 3 * 1 + 3,
        "held": 3,
        "free": 3,
        "expected-24h": 4,
        "expected-72h": 8,
        "locations": 4,
        "stale": 0,
    }
    assert counts(report, "elv_laag")["free"] == 6
    assert [g["code"]["coding"][0]["code"] for g in report["group"]] == ["elv_laag", "elv_hoog"]


def test_stale_counts_are_counted(world):
    capacity = world.other_location.capacities.get()
    capacity.confirmed_at = timezone.now() - timedelta(hours=world.region.stale_after_hours + 1)
    capacity.save()

    report = entries(fhir_body(token_client(world.users[Role.GP]).get(f"{FHIR}/MeasureReport")))[0]

    assert counts(report, "elv_hoog")["stale"] == 1
    assert counts(report, "elv_laag")["stale"] == 0


def test_report_for_a_past_day_is_rebuilt_from_history(world):
    heerlen_hoog = world.locations[0].capacities.get(product__code="elv_hoog")
    today = timezone.localdate()
    three_days_ago, two_days_ago, five_days_ago = (today - timedelta(days=n) for n in (3, 2, 5))
    with time_machine.travel(local(three_days_ago, 20), tick=False):
        capacity_update(capacity_id=heerlen_hoog.pk, by=world.planner, counts={"available": 4})
    with time_machine.travel(local(two_days_ago, 10), tick=False):
        capacity_update(capacity_id=heerlen_hoog.pk, by=world.planner, counts={"available": 2})
        capacity_hold(capacity_id=heerlen_hoog.pk, by=None)
    api = token_client(world.users[Role.COORDINATOR])

    then = entries(fhir_body(api.get(f"{FHIR}/MeasureReport", {"period": three_days_ago.isoformat()})))[0]
    before_history = entries(fhir_body(api.get(f"{FHIR}/MeasureReport", {"date": f"eq{five_days_ago}"})))[0]
    now = entries(fhir_body(api.get(f"{FHIR}/MeasureReport")))[0]

    assert then["id"] == f"region-{world.region.pk}-{three_days_ago}"
    assert then["period"]["start"].startswith(f"{three_days_ago}T00:00:00")
    assert then["period"]["end"].startswith(f"{three_days_ago}T23:59:59")
    # At the end of that day: Heerlen had 4 available, 1 held; the others had today's counts but
    # had not been confirmed yet (their confirmation lies in the future of that day).
    assert counts(then, "elv_hoog") | {"expected-24h": 0, "expected-72h": 0} == {
        "total": 23,
        "available": 4 + 1 + 1 + 3,
        "held": 3,
        "free": 6,
        "expected-24h": 0,
        "expected-72h": 0,
        "locations": 4,
        "stale": 3,
    }
    # Before the first change: the figures that change replaced.
    assert counts(before_history, "elv_hoog")["available"] == 1 + 1 + 1 + 3
    assert counts(before_history, "elv_hoog")["stale"] == 4
    # Now: 2 available, 2 held at Heerlen; its confirmation (two days ago) is stale by now.
    assert counts(now, "elv_hoog")["available"] == 2 + 1 + 1 + 3
    assert counts(now, "elv_hoog")["held"] == 4
    assert counts(now, "elv_hoog")["stale"] == 1


def test_report_can_be_read_by_its_id_and_for_one_location(world):
    api = token_client(world.users[Role.GP])
    yesterday = timezone.localdate() - timedelta(days=1)
    location = world.locations[0]

    by_id = fhir_body(api.get(f"{FHIR}/MeasureReport/region-{world.region.pk}-{yesterday}"))
    one = entries(fhir_body(api.get(f"{FHIR}/MeasureReport", {"subject": f"Location/{location.pk}"})))[0]

    assert by_id["id"] == f"region-{world.region.pk}-{yesterday}"
    assert one["id"] == f"location-{location.pk}"
    assert one["subject"] == {"reference": f"Location/{location.pk}", "display": "De Schacht"}
    assert counts(one, "elv_hoog")["locations"] == 1
    assert fhir_body(api.get(f"{FHIR}/MeasureReport/location-{location.pk}"))["id"] == one["id"]


def test_reports_of_another_region_are_not_found(world):
    api = token_client(world.users[Role.GP])
    far_region = world.far_location.organisation.region

    outcome(api.get(f"{FHIR}/MeasureReport/region-{far_region.pk}"), 404, "not-found")
    outcome(api.get(f"{FHIR}/MeasureReport/location-{world.far_location.pk}"), 404, "not-found")
    outcome(api.get(f"{FHIR}/MeasureReport/something-else"), 404, "not-found")
    outcome(api.get(f"{FHIR}/MeasureReport/location-{10**25}"), 404, "not-found")  # no row can have it
    assert (
        fhir_body(api.get(f"{FHIR}/Location", {"_id": str(10**25), "organization": f"Organization/{10**25}"}))["total"]
        == 0
    )
    assert fhir_body(api.get(f"{FHIR}/MeasureReport", {"subject": f"Location/{world.far_location.pk}"}))["total"] == 0


@pytest.mark.parametrize("period", ["tomorrow", "2026-13-01", "gt2026-01-01", "FUTURE"])
def test_a_bad_or_future_period_is_a_400(world, period):
    if period == "FUTURE":
        period = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = token_client(world.users[Role.GP]).get(f"{FHIR}/MeasureReport", {"period": period})

    outcome(response, 400, "invalid")
