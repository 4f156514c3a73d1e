"""Kubernetes resource quantities (`100m`, `1.5Gi`, `2e3`) as exact decimals, and back."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([eE][+-]?\d+|[a-zA-Z]*)$")


def parse(value: object) -> Decimal:
    """The quantity's value in base units (cores, bytes); ValueError for text that is not a quantity."""
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = m.groups()
    try:
        base = Decimal(number)
        if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
            return base * Decimal(10) ** int(suffix[1:])
        return base * _SUFFIX[suffix]
    except (KeyError, InvalidOperation) as e:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from e


def cpu(value: Decimal) -> str:
    """Cores as kubectl writes requests: `250m`, `2`."""
    milli = int(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory(value: Decimal) -> str:
    """Bytes rounded down to whole Mi (or Gi when exact), as people write memory requests."""
    mi = int(value // (2**20))
    return f"{mi // 1024}Gi" if mi and mi % 1024 == 0 else f"{mi}Mi"
