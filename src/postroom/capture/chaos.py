"""Chaos mode: make chosen SMTP commands fail with a chosen code and probability.

Configured with ``POSTROOM_SMTP_CHAOS`` ("mail=451:0.5,rcpt=550:0.1,data=452:1") and
changeable at run time through the API, so an application's retry and error handling
can be tested against a server that misbehaves on purpose.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["COMMANDS", "ChaosError", "ChaosMonkey", "Trigger", "parse_triggers"]

COMMANDS = ("mail", "rcpt", "data", "auth")


class ChaosError(ValueError):
    """A chaos trigger is malformed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Trigger:
    code: int
    probability: float = 1.0

    def __post_init__(self) -> None:
        if not 400 <= self.code <= 599:
            raise ChaosError(f"chaos code must be a 4xx or 5xx SMTP code, got {self.code}")
        if not 0.0 <= self.probability <= 1.0:
            raise ChaosError(f"chaos probability must be between 0 and 1, got {self.probability}")

    @classmethod
    def from_json(cls, value: Trigger | Mapping[str, Any]) -> Trigger:
        if isinstance(value, Trigger):
            return value
        try:
            code, probability = int(value["code"]), float(value.get("probability", 1.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ChaosError('a chaos trigger is {"code": 4xx|5xx, "probability": 0..1}') from exc
        return cls(code, probability)

    def to_json(self) -> dict[str, int | float]:
        return {"code": self.code, "probability": self.probability}


def _command(name: str) -> str:
    command = name.strip().lower()
    if command not in COMMANDS:
        raise ChaosError(f"chaos command must be one of {', '.join(COMMANDS)}, got {name!r}")
    return command


def parse_triggers(text: str) -> dict[str, Trigger]:
    """Parse "mail=451:0.5,rcpt=550" (probability 1 when left out)."""
    triggers: dict[str, Trigger] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, spec = item.partition("=")
        if not sep:
            raise ChaosError(f"chaos trigger {item.strip()!r} is not command=code[:probability]")
        code, _, probability = spec.partition(":")
        try:
            numbers = int(code), float(probability) if probability.strip() else 1.0
        except ValueError as exc:
            raise ChaosError(f"chaos trigger {item.strip()!r} is not command=code[:probability]") from exc
        triggers[_command(name)] = Trigger(*numbers)
    return triggers


class ChaosMonkey:
    """The current triggers of one process; ``fire()`` decides per command."""

    def __init__(self, triggers: Mapping[str, Trigger] | None = None, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._triggers: dict[str, Trigger] = {}
        self.set(triggers or {})

    @classmethod
    def from_setting(cls, text: str, *, rng: random.Random | None = None) -> ChaosMonkey:
        return cls(parse_triggers(text), rng=rng)

    @property
    def enabled(self) -> bool:
        return bool(self._triggers)

    def set(self, triggers: Mapping[str, Trigger | Mapping[str, Any]]) -> None:
        """Replace every trigger; validated as a whole, so a bad one changes nothing."""
        parsed = {_command(name): Trigger.from_json(value) for name, value in triggers.items()}
        self._triggers = parsed

    def get(self) -> dict[str, dict[str, int | float]]:
        return {name: trigger.to_json() for name, trigger in self._triggers.items()}

    def clear(self) -> None:
        self._triggers = {}

    def fire(self, command: str) -> int | None:
        """The code to answer ``command`` with, or None to let it through."""
        trigger = self._triggers.get(command.lower())
        if trigger is None or trigger.probability <= 0.0:
            return None
        if self._rng.random() < trigger.probability:
            return trigger.code
        return None
