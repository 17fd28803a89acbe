"""Compile the model's kernels once, in the fork server, before any worker is forked.

Workers forked from the fork server inherit the compiled code instead of each compiling it (or
loading numba's cache) on their first run. In a fresh checkout, where nothing is cached yet,
that also keeps several workers from compiling and writing the same cache files at once.
"""

from __future__ import annotations

try:  # a failure here must not stop the fork server: a worker then reports it on its run
    from simulation.model import EcosystemModel

    EcosystemModel(scenario="market", researchers=20, rng=0).step()
except Exception:  # noqa: BLE001, S110
    pass
