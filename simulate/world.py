"""The simulated region in the throw-away database: the demo's Zuid-Limburg (providers,
locations, users, admission hours, contracts) with the scenario's contracted beds, and the beds
already occupied when the simulation starts (the steady state, so no warm-up is needed)."""

import math
import random
from dataclasses import dataclass

from accounts.models import Role, User
from beds.models import Capacity
from cockpit.erlang import beds_needed
from providers.demo import seed_demo_region
from providers.models import Insurer, Location, PostcodeArea, Product, Region
from simulate.scenario import Scenario

# PC4 areas of Zuid-Limburg, where the simulated patients live.
REGION_PC4 = ("6130", "6479")


@dataclass
class World:
    region: Region
    products: dict  # code → Product
    beds: dict  # code → contracted beds
    gp: User
    transfer_nurse: User
    coordinator: User
    planners: dict  # organisation id → a planner of that provider
    insurers: list
    postcodes: list
    occupied_at_start: list  # (capacity id, minutes until that bed is free)


def _largest_remainder(total: int, weights: list[int]) -> list[int]:
    """`total` split over `weights` proportionally, in whole beds summing to `total`."""
    weight_sum = sum(weights) or 1
    exact = [total * weight / weight_sum for weight in weights]
    shares = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (exact[i] - shares[i], -i), reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal approximation above 50, Knuth's method below)."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def contracted_beds(scenario: Scenario) -> dict[str, int]:
    return {
        code: scenario.beds.get(code) or beds_needed(scenario.offered_load(code), scenario.beds_target)
        for code in scenario.product_mix
    }


def build_world(scenario: Scenario, rng: random.Random) -> World:
    seed_demo_region()
    region = Region.objects.get(code="zuid-limburg")
    products = {product.code: product for product in Product.objects.filter(code__in=scenario.product_mix)}
    beds = contracted_beds(scenario)
    if scenario.idealised:
        # The Erlang model: every bed takes any patient at any hour, one offer holds one bed.
        Location.objects.filter(organisation__region=region).update(admission_24_7=True)
        region.max_parallel_offers = 1
        region.save(update_fields=["max_parallel_offers"])
    # Products the scenario leaves out have no beds (so its figures are the mix's alone).
    Capacity.objects.filter(location__organisation__region=region).exclude(product__in=products.values()).update(
        total=0, available=0, held=0, reserved=0, expected_24h=0, expected_72h=0
    )
    occupied_at_start = []
    for code, product in products.items():
        capacities = list(
            Capacity.objects.filter(location__organisation__region=region, product=product).order_by("pk")
        )
        totals = _largest_remainder(beds[code], [capacity.total for capacity in capacities])
        # The steady state of the loss system: a Poisson number of patients, at most every bed.
        occupied = min(beds[code], _poisson(rng, scenario.offered_load(code)))
        occupied_per = _largest_remainder(occupied, totals)
        for capacity, total, taken in zip(capacities, totals, occupied_per, strict=True):
            capacity.total, capacity.available = total, total - taken
            capacity.held = capacity.reserved = capacity.expected_24h = capacity.expected_72h = 0
            capacity.confirmed_at = scenario.start_at
            capacity.save()
            for _ in range(taken):
                occupied_at_start.append((capacity.pk, _residual_stay_minutes(scenario, rng)))
    planners = {}
    for planner in User.objects.filter(role=Role.PROVIDER_STAFF, organisation__region=region).order_by("pk"):
        planners.setdefault(planner.organisation_id, planner)
    low, high = REGION_PC4
    return World(
        region=region,
        products=products,
        beds=beds,
        gp=User.objects.get(username="huisarts"),
        transfer_nurse=User.objects.get(username="transfer"),
        coordinator=User.objects.get(username="coordinator"),
        planners=planners,
        insurers=list(Insurer.objects.order_by("uzovi")),
        postcodes=list(PostcodeArea.objects.filter(pc4__gte=low, pc4__lte=high).order_by("pc4")),
        occupied_at_start=occupied_at_start,
    )


def length_of_stay_minutes(scenario: Scenario, rng: random.Random) -> float:
    return rng.lognormvariate(scenario.length_of_stay_mu, scenario.length_of_stay_sigma) * 24 * 60


def _residual_stay_minutes(scenario: Scenario, rng: random.Random) -> float:
    """What is left of the stay of a patient found in bed at a random moment: stays seen that way
    are length-biased (for a lognormal, mu + sigma²), and the moment falls uniformly within one."""
    biased = rng.lognormvariate(
        scenario.length_of_stay_mu + scenario.length_of_stay_sigma**2, scenario.length_of_stay_sigma
    )
    return biased * rng.random() * 24 * 60
