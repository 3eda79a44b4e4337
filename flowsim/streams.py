"""Named random streams: one numpy Generator per source of randomness.

Each stream is derived from the scenario seed and the stream's *name* only, never from
the order in which streams are created, so adding a function or changing a limit does
not move anyone else's dice (common random numbers across variants). Names follow the
convention ``arrivals:<source>``, ``data:<source>/<field>``,
``durations:<function>/<step>``, ``failures:<function>/<step>``,
``retries:<function>``, ``shuffle``.
"""
from __future__ import annotations

import hashlib

import numpy as np

from flowsim.errors import ScenarioError


def _name_key(name: str) -> tuple[int, int]:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:16], "little")


class Streams:
    """A lazily filled mapping from stream name to ``numpy.random.Generator``."""

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        self.root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(check_seed(seed))
        self._gens: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._gens.get(name)
        if gen is None:
            seq = np.random.SeedSequence(self.root.entropy,
                                         spawn_key=tuple(self.root.spawn_key) + _name_key(name))
            gen = self._gens[name] = np.random.Generator(np.random.PCG64(seq))
        return gen


def check_seed(seed: int) -> int:
    """``seed`` as an int, or a :class:`ScenarioError` if it is negative (numpy's
    ``SeedSequence`` takes only non-negative integers)."""
    value = int(seed)
    if value < 0:
        raise ScenarioError(f"expected a non-negative integer, got {value}", field="seed")
    return value


def replication_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent seeds spawned from ``seed`` (numpy ``SeedSequence.spawn``)."""
    return [int(s.generate_state(1, np.uint64)[0]) for s in np.random.SeedSequence(check_seed(seed)).spawn(n)]
