"""Reading a provider's plain ``{name: value}`` options (stored encrypted per tenant, or from Settings)."""

from __future__ import annotations

from collections.abc import Mapping

from postroom.send.providers.http import DEFAULT_TIMEOUT


def required(options: Mapping[str, str], provider: str, name: str) -> str:
    value = (options.get(name) or "").strip()
    if not value:
        raise ValueError(f"the {provider} provider needs the option '{name}'")
    return value


def optional(options: Mapping[str, str], name: str, default: str = "") -> str:
    return (options.get(name) or "").strip() or default


def timeout(options: Mapping[str, str], provider: str) -> float:
    raw = optional(options, "timeout")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"the {provider} option 'timeout' must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"the {provider} option 'timeout' must be positive")
    return value
