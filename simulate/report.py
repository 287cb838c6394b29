"""The figures of a run, read back from the throw-away database and the simulation's record, as
a dict (JSON) and Markdown. No wall-clock figure is among them: the same seed gives the same
report, byte for byte."""

import json
import math
import statistics
from pathlib import Path

from django.db.models import Count

from cockpit.erlang import erlang_b
from providers.geo import distance_between
from providers.models import PostcodeArea
from referrals.models import BOOKED_OFFER_STATES, Escalation, Offer
from simulate.engine import DAY, Record
from simulate.scenario import Scenario

# What the desk promises (issue 18): median ≤ 30 min, P90 ≤ 2 h, ≥ 98% within 24 h.
TARGETS = {"median_minutes": 30, "p90_minutes": 120, "placed_within_24h": 0.98}


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile by the nearest-rank method (a value that occurred), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value, digits=1):
    return None if value is None else round(value, digits)


def build_report(*, scenario: Scenario, record: Record, beds: dict) -> dict:
    arrivals = {arrival.referral_id: arrival for arrival in record.arrivals}
    booked = {
        offer.referral_id: offer
        for offer in Offer.objects.filter(referral_id__in=arrivals, state__in=BOOKED_OFFER_STATES)
        .select_related("referral", "location", "referral__patient")
        .order_by("answered_at", "pk")
    }
    minutes = [(offer.answered_at - offer.referral.created_at).total_seconds() / 60 for offer in booked.values()]
    within_day = sum(1 for value in minutes if value <= DAY)
    offers = Offer.objects.filter(referral_id__in=arrivals).count()
    gave_up = sum(1 for arrival in record.arrivals if arrival.gave_up)
    areas = {
        area.pc4: area
        for area in PostcodeArea.objects.filter(pc4__in={o.referral.patient.postcode[:4] for o in booked.values()})
    }
    distances = [
        distance_between(area.latitude, area.longitude, offer.location.latitude, offer.location.longitude)
        for offer in booked.values()
        if (area := areas.get(offer.referral.patient.postcode[:4])) and offer.location.latitude is not None
    ]
    escalations = dict(
        sorted(
            Escalation.objects.filter(referral_id__in=arrivals)
            .values_list("kind")
            .annotate(count=Count("id"))
            .values_list("kind", "count")
        )
    )
    total = len(record.arrivals)
    products = {}
    for code in scenario.product_mix:
        of_product = [arrival for arrival in record.arrivals if arrival.product == code]
        no_free = sum(1 for arrival in of_product if not arrival.free_on_arrival)
        samples = record.occupancy.get(code, [])
        products[code] = {
            "referrals": len(of_product),
            "contracted_beds": beds[code],
            "offered_load_erlangs": round(scenario.offered_load(code), 2),
            "mean_occupancy": _round(statistics.fmean(samples), 4) if samples else None,
            "no_free_bed_on_arrival": _share(no_free, len(of_product)),
            "erlang_loss_formula": round(erlang_b(scenario.offered_load(code), beds[code]), 4),
        }
    figures = {
        "referrals": total,
        "placed": len(booked),
        "median_minutes_to_bed": _round(_quantile(minutes, 0.5)),
        "p90_minutes_to_bed": _round(_quantile(minutes, 0.9)),
        "placed_within_24h": _share(within_day, total),
        "no_bed_in_region": _share(gave_up, total),
        "offers_per_placement": _round(offers / len(booked), 2) if booked else None,
        "median_km_to_bed": _round(_quantile(distances, 0.5)),
        "p90_km_to_bed": _round(_quantile(distances, 0.9)),
        "escalations": escalations,
        "products": products,
    }
    targets = {
        "median_minutes": figures["median_minutes_to_bed"] is not None
        and figures["median_minutes_to_bed"] <= TARGETS["median_minutes"],
        "p90_minutes": figures["p90_minutes_to_bed"] is not None
        and figures["p90_minutes_to_bed"] <= TARGETS["p90_minutes"],
        "placed_within_24h": (figures["placed_within_24h"] or 0) >= TARGETS["placed_within_24h"],
    }
    return {"scenario": scenario.as_dict(), "figures": figures, "targets_met": targets}


def _cell(value) -> str:
    return "–" if value is None else str(value)


def _percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def as_markdown(report: dict) -> str:
    figures, scenario, met = report["figures"], report["scenario"], report["targets_met"]
    ok = {True: "met", False: "**missed**"}
    lines = [
        f"# Region simulation — seed {scenario['seed']}, {scenario['days']} days from {scenario['start']}",
        "",
        f"Population {scenario['population']:,}; {figures['referrals']} referrals, {figures['placed']} placed. "
        "Rerun: `make simulate` (see simulate/README.md); same seed and parameters → the same figures.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| median time from referral to accepted bed | {_cell(figures['median_minutes_to_bed'])} min "
        f"| ≤ {TARGETS['median_minutes']} min: {ok[met['median_minutes']]} |",
        f"| P90 time from referral to accepted bed | {_cell(figures['p90_minutes_to_bed'])} min "
        f"| ≤ {TARGETS['p90_minutes']} min: {ok[met['p90_minutes']]} |",
        f"| placed within 24 h | {_percent(figures['placed_within_24h'])} "
        f"| ≥ {TARGETS['placed_within_24h']:.0%}: {ok[met['placed_within_24h']]} |",
        f"| no bed in the region (placed elsewhere after {scenario['patience_hours']:g} h) "
        f"| {_percent(figures['no_bed_in_region'])} | |",
        f"| offers per placement | {_cell(figures['offers_per_placement'])} | |",
        f"| distance to the bed, median / P90 | {_cell(figures['median_km_to_bed'])} / "
        f"{_cell(figures['p90_km_to_bed'])} km | |",
        f"| escalations | {', '.join(f'{k}: {v}' for k, v in figures['escalations'].items()) or 'none'} | |",
        "",
        "| product | referrals | beds | load (erlangs) | mean occupancy | no free bed on arrival "
        "| Erlang loss formula |",
        "|---|---|---|---|---|---|---|",
    ]
    for code, row in figures["products"].items():
        lines.append(
            f"| {code} | {row['referrals']} | {row['contracted_beds']} | {row['offered_load_erlangs']} "
            f"| {_percent(row['mean_occupancy'])} | {_percent(row['no_free_bed_on_arrival'])} "
            f"| {_percent(row['erlang_loss_formula'])} |"
        )
    lines += [
        "",
        "The Erlang column is the capacity planner's chance that an arriving patient finds no free bed. "
        "The simulated share is higher when patients wait for a bed (they keep occupying the queue) and "
        "when offers hold beds; with `--idealised --patience 0` the two agree (tests/simulate).",
        "",
        "Parameters:",
        "",
        "```json",
        json.dumps(scenario, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_report(report: dict, directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    md_path.write_text(as_markdown(report), encoding="utf-8")
    return json_path, md_path
