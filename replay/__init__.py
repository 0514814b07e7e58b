"""Replay engine: NOVA kernel state machine re-executing a trace (issue 4).

``replay.engine`` is the numba engine (fast, the rules MODEL.md "The numba engine" lists); ``replay.reference``
the plain-Python reference model (slow, complete). Both are imported lazily: ``import replay`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from tracefmt.jit import configure

configure()  # before anything imports numba

__all__ = ["Engine", "replay_engine"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from replay import engine

        return getattr(engine, name)
    raise AttributeError(name)
