from __future__ import annotations

import random

import pytest

from postroom.capture.chaos import ChaosError, ChaosMonkey, Trigger, parse_triggers


def test_parse_triggers_reads_code_and_probability() -> None:
    assert parse_triggers("mail=451:0.5, rcpt=550:0.1,data=452:1") == {
        "mail": Trigger(451, 0.5),
        "rcpt": Trigger(550, 0.1),
        "data": Trigger(452, 1.0),
    }


def test_parse_triggers_defaults_probability_to_one_and_ignores_blanks() -> None:
    assert parse_triggers(" AUTH=535 ,,") == {"auth": Trigger(535, 1.0)}
    assert parse_triggers("") == {}


@pytest.mark.parametrize(
    "text",
    ["mail", "mail=abc", "mail=451:x", "helo=451", "mail=250", "mail=451:1.5", "mail=600:0.1"],
)
def test_parse_triggers_refuses_bad_input(text: str) -> None:
    with pytest.raises(ChaosError):
        parse_triggers(text)


def test_fire_with_probability_one_always_fails_the_command() -> None:
    monkey = ChaosMonkey.from_setting("mail=451:1")
    assert [monkey.fire("MAIL") for _ in range(5)] == [451] * 5
    assert monkey.fire("rcpt") is None


def test_fire_with_probability_zero_never_fails() -> None:
    monkey = ChaosMonkey({"data": Trigger(452, 0.0)}, rng=random.Random(1))
    assert all(monkey.fire("data") is None for _ in range(100))


def test_fire_follows_the_injected_random_source() -> None:
    seeded = ChaosMonkey.from_setting("rcpt=550:0.3", rng=random.Random(42))
    reference = random.Random(42)
    expected = [550 if reference.random() < 0.3 else None for _ in range(50)]
    assert [seeded.fire("rcpt") for _ in range(50)] == expected
    assert 0 < expected.count(550) < 50


def test_set_get_and_clear_at_run_time() -> None:
    monkey = ChaosMonkey()
    assert not monkey.enabled and monkey.get() == {}
    monkey.set({"mail": {"code": 451, "probability": 1.0}, "rcpt": Trigger(550, 0.25)})
    assert monkey.enabled
    assert monkey.get() == {"mail": {"code": 451, "probability": 1.0}, "rcpt": {"code": 550, "probability": 0.25}}
    monkey.set({"data": {"code": 452}})
    assert monkey.get() == {"data": {"code": 452, "probability": 1.0}}
    monkey.clear()
    assert monkey.get() == {} and monkey.fire("data") is None


@pytest.mark.parametrize(
    "triggers",
    [{"helo": {"code": 451}}, {"mail": {"code": 200}}, {"mail": {"probability": 1}}, {"mail": {"code": "x"}}],
)
def test_set_refuses_bad_triggers_and_keeps_the_old_ones(triggers: dict[str, dict[str, object]]) -> None:
    monkey = ChaosMonkey.from_setting("mail=451")
    with pytest.raises(ChaosError):
        monkey.set(triggers)
    assert monkey.get() == {"mail": {"code": 451, "probability": 1.0}}
