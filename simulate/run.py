"""One simulation run on the current (throw-away) database: the world, the events, the report."""

import random

import time_machine

from simulate.engine import Simulation
from simulate.report import build_report
from simulate.scenario import Scenario
from simulate.world import build_world


def simulate(scenario: Scenario) -> dict:
    """Run `scenario` and return its report. The database must be empty of regions (a fresh,
    migrated throw-away database: `python -m simulate`, or a test's database)."""
    # Seeded simulation draws, not a secret.
    rng = random.Random(scenario.seed)  # nosec B311
    with time_machine.travel(scenario.start_at, tick=False) as traveller:
        world = build_world(scenario, rng)
        record = Simulation(scenario=scenario, world=world, rng=rng, traveller=traveller).run()
        return build_report(scenario=scenario, record=record, beds=world.beds)
