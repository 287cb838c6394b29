"""The discrete-event model (SimPy): referrals arrive, the desk or the referrer sends offers,
providers answer, patients are admitted and discharged — every step through the desk's real
services (referrals.services, beds.services, the ranking, expiry, escalations, proposals), each
called with the clock moved to the simulated moment.

Time in the SimPy environment is in minutes since the scenario's start. One random generator,
seeded from the scenario, draws everything in the order the events happen, so the same seed
gives the same run.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import simpy
from django.core.exceptions import ValidationError
from django.db.models import F, Sum
from django.utils import timezone

from beds.models import Capacity
from beds.services import capacity_free_bed, location_capacities_confirm
from elvdesk.errors import Conflict
from referrals import services
from referrals.escalations import escalations_update
from referrals.matching import rank_referrals
from referrals.models import DeclineReason, Offer, OfferState, Referral, State
from referrals.proposals import proposals_update
from simulate import figures
from simulate.scenario import MAX_INTENSITY, Scenario, intensity
from simulate.world import World, length_of_stay_minutes

DAY = 24 * 60
RECHECK_MINUTES = 30  # a searching referral is looked at again at least this often
# Why providers decline, and how often (our assumption; the reasons are the desk's own).
DECLINE_REASONS = {
    DeclineReason.NO_BED: 0.30,
    DeclineReason.TOO_COMPLEX: 0.30,
    DeclineReason.NO_PHYSICIAN: 0.20,
    DeclineReason.INSURER: 0.10,
    DeclineReason.OTHER: 0.10,
}
# Palliative patients mostly die in the bed; the others leave as figures.DISCHARGE_DESTINATIONS.
PALLIATIVE_DESTINATIONS = {"deceased": 0.85, "home_district_nursing": 0.10, "hospital": 0.05}
GAVE_UP_REASON = "Placed outside the region: no bed within the simulated patience."


@dataclass
class Arrival:
    """What the simulation knows of a referral beyond the database."""

    referral_id: int
    product: str
    minute: float
    free_on_arrival: bool
    gave_up: bool = False
    placed_or_gone: bool = False


@dataclass
class Record:
    arrivals: list = field(default_factory=list)
    occupancy: dict = field(default_factory=dict)  # product → [occupied share per hour]


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def bsn(number: int) -> str | None:
    """A BSN passing the eleven test made from an 8-digit number, or None when none exists."""
    digits = [int(d) for d in f"{number:08d}"]
    check = sum(weight * digit for weight, digit in zip(range(9, 1, -1), digits, strict=True)) % 11
    return None if check == 10 else "".join(map(str, digits)) + str(check)


class Simulation:
    def __init__(self, *, scenario: Scenario, world: World, rng: random.Random, traveller):
        self.scenario, self.world, self.rng, self.traveller = scenario, world, rng, traveller
        self.env = simpy.Environment()
        self.start = scenario.start_at
        self.record = Record(occupancy={code: [] for code in world.products})
        self.beds_changed = self.env.event()
        self.wake: dict[int, simpy.Event] = {}
        self._next_bsn = 10_000_000

    # --- the clock

    def moment(self) -> datetime:
        return self.start + timedelta(minutes=self.env.now)

    def sync(self) -> datetime:
        """Move the process clock to the simulated moment: every service reads it."""
        now = self.moment()
        self.traveller.move_to(now)
        return now

    def _minutes_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.moment()).total_seconds() / 60)

    def _signal_beds(self) -> None:
        event, self.beds_changed = self.beds_changed, self.env.event()
        event.succeed()

    def _wake(self, referral_id: int) -> None:
        event = self.wake.pop(referral_id, None)
        if event is not None and not event.triggered:
            event.succeed()

    # --- the run

    def run(self) -> Record:
        end_of_arrivals = self.scenario.days * DAY
        self.env.process(self._arrivals(end_of_arrivals))
        self.env.process(self._occupancy(end_of_arrivals))
        self.env.process(self._every(self.scenario.escalations_every_minutes, self._escalations))
        self.env.process(self._every(self.scenario.proposals_every_minutes, self._proposals))
        self.env.process(self._confirm_counts())
        for capacity_id, minutes in self.world.occupied_at_start:
            self.env.process(self._bed_frees(capacity_id, minutes))
        self.env.run(until=end_of_arrivals)
        # After the last arrival: until every referral is placed or has left the region.
        while any(arrival.placed_or_gone is False for arrival in self.record.arrivals):
            self.env.run(until=self.env.now + 60)
        return self.record

    def _arrivals(self, until: float):
        # Thinning (Lewis–Shedler): candidates at the peak rate, kept with intensity/peak. The
        # idealised model arrives at a constant rate (the Erlang formula's Poisson arrivals).
        peak = 1.0 if self.scenario.idealised else MAX_INTENSITY
        peak_per_minute = self.scenario.arrivals_per_day * peak / DAY
        while True:
            yield self.env.timeout(self.rng.expovariate(peak_per_minute))
            if self.env.now >= until:
                return
            local = timezone.localtime(self.moment())
            if self.scenario.idealised or self.rng.random() * peak <= intensity(local.weekday(), local.hour):
                self.env.process(self._referral())

    def _every(self, minutes: int, job):
        while True:
            yield self.env.timeout(minutes)
            job(self.sync())

    def _escalations(self, now: datetime) -> None:
        escalations_update(now=now)

    def _proposals(self, now: datetime) -> None:
        if proposals_update(now=now)["proposed"]:
            self._signal_beds()

    def _confirm_counts(self):
        """Planners confirm their counts at 08:00 and 16:00 (a count unconfirmed for 12 hours is
        ranked after confirmed ones)."""
        locations = sorted({(c.location_id, c.location.organisation_id) for c in self._capacities()})
        while True:
            local = timezone.localtime(self.moment())
            hours = [h for h in (8, 16) if h > local.hour + local.minute / 60] or [8 + 24]
            yield self.env.timeout((hours[0] - local.hour) * 60 - local.minute - local.second / 60)
            self.sync()
            for location_id, organisation_id in locations:
                location_capacities_confirm(location_id=location_id, by=self.world.planners[organisation_id])

    def _capacities(self):
        return Capacity.objects.filter(location__organisation__region=self.world.region).select_related("location")

    def _occupancy(self, until: float):
        while self.env.now < until:
            rows = (
                self._capacities()
                .order_by()
                .values("product__code")
                .annotate(beds=Sum("total"), occupied=Sum(F("total") - F("available")))
            )
            for row in rows:
                if row["product__code"] in self.record.occupancy and row["beds"]:
                    self.record.occupancy[row["product__code"]].append(row["occupied"] / row["beds"])
            yield self.env.timeout(60)

    def _bed_frees(self, capacity_id: int, minutes: float):
        yield self.env.timeout(minutes)
        self.sync()
        capacity = Capacity.objects.select_related("location").get(pk=capacity_id)
        capacity_free_bed(capacity_id=capacity_id, by=self.world.planners[capacity.location.organisation_id])
        self._signal_beds()

    # --- one referral

    def _patient_data(self, product: str) -> tuple[dict, object]:
        from_home = self.rng.random() < self.scenario.share_from_home
        referrer = self.world.gp if from_home else self.world.transfer_nurse
        number = None
        while number is None:
            self._next_bsn += 1
            number = bsn(self._next_bsn)
        area = self.rng.choice(self.world.postcodes)
        palliative = product == "elv_palliatief"
        data = {
            "bsn": number,
            "name": f"Patiënt {self._next_bsn - 10_000_000}",
            "date_of_birth": date(self.rng.randint(1926, 1952), self.rng.randint(1, 12), self.rng.randint(1, 28)),
            "sex": self.rng.choice(("F", "M")),
            "postcode": f"{area.pc4} AA",
            "insurer": self.rng.choice(self.world.insurers),
            "origin": "home" if from_home else self.rng.choice(("ward", "ward", "ward", "emergency")),
            "product": self.world.products[product],
            "urgency": "today" if from_home else "within_24h",
            "planned_date": None,
            "wakeful_eye": product != "elv_laag",
            "unplannable_nursing": product != "elv_laag",
            "adl_taken_over": True,
            "care_needs": [],
            "wlz_indication": False,
            "life_expectancy_short": palliative,
            "needs_hospital_care": False,
            "carer_relief_only": False,
            "trainable_after_hospital": product == "elv_laag",
            "needs_elderly_care_specialist": product == "elv_hoog",
            "medical_reason": "Gesimuleerde aanmelding.",
            "consent": True,
            "carer_contact": "",
            "notes": "",
        }
        return data, referrer

    def _free_beds(self, product: str) -> int:
        return (
            self._capacities().filter(product__code=product).aggregate(free=Sum(F("available") - F("held")))["free"]
            or 0
        )

    def _referral(self):
        product = _weighted(self.rng, self.scenario.product_mix)
        data, referrer = self._patient_data(product)
        self.sync()
        free = self._free_beds(product) > 0
        referral, _ = services.referral_submit(by=referrer, data=data)
        arrival = Arrival(referral_id=referral.pk, product=product, minute=self.env.now, free_on_arrival=free)
        self.record.arrivals.append(arrival)
        if self.scenario.patience_hours == 0 and not free:
            self._give_up(referral, arrival)
            return
        if referral.state == State.SUBMITTED:
            # Office hours: the desk picks the referral up and starts the search.
            if not self.scenario.idealised:
                yield self.env.timeout(self.rng.expovariate(1 / self.scenario.desk_pickup_minutes))
            self.sync()
            services.referral_step(referral=referral, target=State.SEARCHING, by=self.world.coordinator)
        yield from self._search(referral, arrival, referrer)

    def _give_up(self, referral: Referral, arrival: Arrival) -> None:
        services.referral_step(
            referral=referral, target=State.CANCELLED, by=self.world.coordinator, reason=GAVE_UP_REASON
        )
        arrival.gave_up = arrival.placed_or_gone = True

    def _search(self, referral: Referral, arrival: Arrival, referrer):
        # Patience 0 sends away only who finds no free bed on arrival; the others get theirs.
        deadline = arrival.minute + (self.scenario.patience_hours * 60 or RECHECK_MINUTES)
        while True:
            now = self.sync()
            referral.refresh_from_db(fields=["state", "state_changed_at"])
            if referral.state not in (State.SEARCHING, State.OFFERED):
                arrival.placed_or_gone = True
                return
            if self.env.now >= deadline:
                self._give_up(referral, arrival)
                return
            searcher = referrer if self.world.region.self_service_allowed(now) else self.world.coordinator
            self._send_offers(referral.pk, searcher, now)
            wake = self.wake[referral.pk] = self.env.event()
            recheck = min(RECHECK_MINUTES, max(1.0, deadline - self.env.now))
            yield self.env.any_of([wake, self.beds_changed, self.env.timeout(recheck)])

    def _send_offers(self, referral_id: int, searcher, now: datetime) -> None:
        referral = (
            Referral.objects.select_related("patient", "region").prefetch_related("care_needs").get(pk=referral_id)
        )
        open_offers = Offer.objects.filter(referral_id=referral_id, state=OfferState.OPEN).count()
        slots = referral.region.max_parallel_offers - open_offers
        if slots <= 0:
            return
        for suggestion in rank_referrals([referral], region=referral.region, now=now)[referral_id][:slots]:
            try:
                offer = services.offer_create(referral=referral, capacity=suggestion.capacity, by=searcher)
            except (Conflict, ValidationError):
                continue  # taken meanwhile, or a rule of the desk says no: the next one
            self.env.process(self._provider_answers(offer))
            self.env.process(self._offer_expires(offer))

    # --- providers

    def _answer_minutes(self) -> float:
        local = timezone.localtime(self.moment())
        day = 8 <= local.hour < 18
        if self.scenario.idealised:
            return 1.0
        median = self.scenario.answer_median_minutes_day if day else self.scenario.answer_median_minutes_night
        return median * self.rng.lognormvariate(0, self.scenario.answer_sigma)

    def _provider_answers(self, offer: Offer):
        yield self.env.timeout(self._answer_minutes())
        now = self.sync()
        offer.refresh_from_db(fields=["state", "expires_at"])
        if offer.state != OfferState.OPEN or now >= offer.expires_at:
            return  # withdrawn, or expired: the expiry job closes it
        planner = self.world.planners[offer.location.organisation_id]
        local = timezone.localtime(now)
        decline_share = self.scenario.decline_share_day if 8 <= local.hour < 18 else self.scenario.decline_share_night
        try:
            if not self.scenario.idealised and self.rng.random() < decline_share:
                reason = _weighted(self.rng, DECLINE_REASONS)
                text = "Gesimuleerde weigering." if reason == DeclineReason.OTHER else ""
                services.offer_decline(offer=offer, by=planner, reason=reason, text=text)
                self._signal_beds()
            else:
                services.offer_accept(offer=offer, by=planner)
                self.env.process(self._admission(offer))
        except Conflict:
            return  # answered elsewhere first (a parallel offer accepted)
        self._wake(offer.referral_id)

    def _offer_expires(self, offer: Offer):
        yield self.env.timeout(self._minutes_until(offer.expires_at))
        self.sync()
        if services.offer_expire(offer_id=offer.pk):
            self._signal_beds()
            self._wake(offer.referral_id)

    # --- the stay

    def _admission(self, offer: Offer):
        if not self.scenario.idealised:
            yield self.env.timeout(self.rng.uniform(*self.scenario.transport_hours) * 60)
            location = offer.location
            while not location.admits_at(timezone.localtime(self.moment()).time()):
                yield self.env.timeout(15)  # waits for the location's admission hours
        now = self.sync()
        planner = self.world.planners[offer.location.organisation_id]
        referral = Referral.objects.get(pk=offer.referral_id)
        services.stay_admit(referral=referral, by=planner, admitted_at=now)
        yield self.env.timeout(length_of_stay_minutes(self.scenario, self.rng))
        now = self.sync()
        referral.refresh_from_db(fields=["state", "state_changed_at"])
        palliative = self.world.products.get("elv_palliatief")
        weights = (
            PALLIATIVE_DESTINATIONS
            if palliative is not None and referral.product_id == palliative.pk
            else figures.DISCHARGE_DESTINATIONS
        )
        services.stay_discharge(
            referral=referral, by=planner, discharged_at=now, destination=_weighted(self.rng, weights)
        )
        self._signal_beds()
