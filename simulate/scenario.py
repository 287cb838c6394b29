"""What one simulation run assumes: every parameter in one frozen dataclass, written into the
report, so a run can be repeated exactly (same parameters and seed → same figures)."""

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime

from simulate import figures

# Relative referral intensity per weekday (Monday first) and hour of day: GP and hospital work
# (more on weekdays and in office hours; evenings and weekends through the GP post and the
# emergency department). Our assumption, normalised so the mean over a week is 1.
WEEKDAY_WEIGHT = (1.15, 1.1, 1.1, 1.1, 1.15, 0.75, 0.65)
HOUR_WEIGHT = (
    (0.3,) * 7  # 00–07
    + (0.9, 1.8, 1.9, 1.9, 1.7, 1.6, 1.7, 1.7, 1.6, 1.3)  # 07–17
    + (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35)  # 17–24
)
_MEAN_WEIGHT = (sum(WEEKDAY_WEIGHT) / 7) * (sum(HOUR_WEIGHT) / 24)


@dataclass(frozen=True)
class Scenario:
    seed: int = 2026
    days: int = 91  # a quarter
    start: str = "2027-01-04T00:00"  # a Monday, local time (Europe/Amsterdam)
    population: int = figures.ZUID_LIMBURG_POPULATION
    product_mix: dict = field(default_factory=lambda: dict(figures.PRODUCT_MIX))
    mean_length_of_stay_days: float = figures.MEAN_LENGTH_OF_STAY_DAYS
    # Skew of the stay: lognormal with this sigma (1.0: median ≈ 0.6 × mean, a long right tail).
    length_of_stay_sigma: float = 0.8
    # Contracted beds per product for the region; empty: the beds the Erlang loss formula says
    # keep the chance of finding no free bed at or below `beds_target` (the planner's answer).
    beds: dict = field(default_factory=dict)
    beds_target: float = 0.05
    # Referrers: share from home (GP) against hospital (transfer nurse).
    share_from_home: float = 0.55
    # Providers answering: lognormal delay with these medians (minutes), by day (08–18) and night.
    answer_median_minutes_day: float = 6.0
    answer_median_minutes_night: float = 25.0
    answer_sigma: float = 0.9
    decline_share_day: float = 0.15
    decline_share_night: float = 0.25
    # The desk in office hours: minutes from submission to starting the search (exponential mean).
    desk_pickup_minutes: float = 5.0
    # Hours between acceptance and arrival at the location (uniform), by day; at night the
    # patient comes when the location admits again.
    transport_hours: tuple = (1.0, 3.0)
    # A patient without a bed this long is placed outside the region (neighbouring region,
    # hospital, Wlz crisis bed): "no bed within the region". 0: leave at once when no bed is free
    # on arrival (the pure loss system of the Erlang formula).
    patience_hours: float = 48.0
    # How often the desk's periodic jobs run in the simulated clock (minutes).
    escalations_every_minutes: int = 15
    proposals_every_minutes: int = 5
    # Every location admits 24/7, answers never decline and patients arrive at once: the model
    # of the Erlang loss formula, for checking the planner against the simulator.
    idealised: bool = False

    @property
    def start_at(self) -> datetime:
        from django.utils import timezone

        return timezone.make_aware(datetime.fromisoformat(self.start))

    @property
    def arrivals_per_day(self) -> float:
        return figures.yearly_users(self.population) / 365.0

    def offered_load(self, product: str) -> float:
        """Erlangs of `product`: arrivals a day × mean stay in days."""
        return self.arrivals_per_day * self.product_mix[product] * self.mean_length_of_stay_days

    @property
    def length_of_stay_mu(self) -> float:
        """The lognormal's mu giving `mean_length_of_stay_days` as its mean."""
        return math.log(self.mean_length_of_stay_days) - self.length_of_stay_sigma**2 / 2

    def as_dict(self) -> dict:
        return asdict(self)


def intensity(weekday: int, hour: int) -> float:
    """Relative arrival intensity at this weekday and hour (mean over a week: 1)."""
    return WEEKDAY_WEIGHT[weekday] * HOUR_WEIGHT[hour] / _MEAN_WEIGHT


MAX_INTENSITY = max(WEEKDAY_WEIGHT) * max(HOUR_WEIGHT) / _MEAN_WEIGHT
