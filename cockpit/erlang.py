"""The Erlang loss formula (Erlang B): the probability that an arriving patient finds every bed
taken, when patients arrive at random (Poisson) and stay for any length-of-stay distribution with
a finite mean (M/G/c/c: the formula depends on that distribution only through its mean).

offered load (erlangs) = arrivals per day × mean length of stay in days.
"""


def erlang_b(offered_load: float, beds: int) -> float:
    """P(no free bed) for `offered_load` erlangs on `beds` beds.

    Computed with the stable recurrence B(0) = 1, B(c) = A·B(c−1) / (c + A·B(c−1)): no factorials,
    exact enough for thousands of beds."""
    if beds < 0:
        raise ValueError("beds must be 0 or more")
    if offered_load < 0:
        raise ValueError("offered load must be 0 or more")
    if offered_load == 0:
        return 0.0 if beds > 0 else 1.0
    blocking = 1.0
    for c in range(1, beds + 1):
        blocking = offered_load * blocking / (c + offered_load * blocking)
    return blocking


def beds_needed(offered_load: float, target: float) -> int:
    """The fewest beds for which P(no free bed) ≤ `target` (0 < target < 1)."""
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1")
    if offered_load <= 0:
        return 0
    beds, blocking = 0, 1.0
    while blocking > target:
        beds += 1
        blocking = offered_load * blocking / (beds + offered_load * blocking)
    return beds
