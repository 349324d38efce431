"""The sign-in throttle's bookkeeping: attempts counted when they start, memory bounded."""

from __future__ import annotations

from oore.http.dashboard.throttle import LoginThrottle


def test_an_address_past_its_limit_is_refused_until_the_window_passes() -> None:
    throttle = LoginThrottle(limit=3, window=60.0)
    assert all(throttle.reserve("10.0.0.1", now) for now in (0.0, 1.0, 2.0))
    assert not throttle.reserve("10.0.0.1", 3.0)
    assert throttle.reserve("10.0.0.2", 3.0)  # another address has its own count
    assert not throttle.reserve("10.0.0.1", 59.5)
    assert throttle.reserve("10.0.0.1", 60.5)  # the first attempt has left the window


def test_a_released_attempt_is_given_back() -> None:
    throttle = LoginThrottle(limit=2, window=60.0)
    assert throttle.reserve("10.0.0.1", 1.0)
    assert throttle.reserve("10.0.0.1", 2.0)
    throttle.release("10.0.0.1", 2.0)
    assert throttle.reserve("10.0.0.1", 3.0)
    throttle.release("10.0.0.1", 99.0)  # never reserved: nothing changes
    assert not throttle.reserve("10.0.0.1", 4.0)


def test_many_addresses_never_hold_more_than_the_capacity() -> None:
    throttle = LoginThrottle(limit=10, window=300.0, capacity=100)
    for n in range(10_000):
        throttle.reserve(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", n / 1000)
        assert len(throttle.attempts) <= 100
    # The most recent addresses are the ones kept.
    assert "10.0.39.15" in throttle.attempts  # n = 9999


def test_addresses_whose_window_passed_are_dropped() -> None:
    throttle = LoginThrottle(limit=10, window=60.0)
    for n in range(50):
        throttle.reserve(f"192.0.2.{n}", float(n))
    throttle.reserve("198.51.100.1", 200.0)
    assert list(throttle.attempts) == ["198.51.100.1"]
