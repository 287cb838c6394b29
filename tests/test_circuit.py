"""The circuit breaker (elvdesk/circuit.py) on a clock the test turns."""

from elvdesk.circuit import CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_healthy_component_is_always_tried():
    breaker = CircuitBreaker(open_seconds=5, clock=Clock())
    assert all(breaker.allow() for _ in range(3))
    assert breaker.succeeded() is False  # nothing to recover from


def test_after_a_failure_calls_are_skipped_for_the_pause():
    clock = Clock()
    breaker = CircuitBreaker(open_seconds=5, clock=clock)
    assert breaker.failed() is True  # opened: the caller logs the outage once
    assert breaker.failed() is False
    clock.now += 4.9
    assert not breaker.allow() and breaker.is_open


def test_after_the_pause_one_caller_tries_and_the_others_keep_skipping():
    clock = Clock()
    breaker = CircuitBreaker(open_seconds=5, clock=clock)
    breaker.failed()
    clock.now += 5
    assert breaker.allow() is True
    assert breaker.allow() is False  # while the trial runs
    assert breaker.succeeded() is True  # recovered: the caller logs it once
    assert breaker.allow() and not breaker.is_open


def test_a_failed_trial_starts_another_pause():
    clock = Clock()
    breaker = CircuitBreaker(open_seconds=5, clock=clock)
    breaker.failed()
    clock.now += 5
    assert breaker.allow()
    breaker.failed()
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
