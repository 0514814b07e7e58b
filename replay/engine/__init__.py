"""The numba replay engine: the fast twin of replay/reference for the rules MODEL.md "The numba engine" lists."""

from tracefmt.jit import configure

configure()  # before numba is imported

from replay.engine.driver import CLAIMED_CODES, Engine, replay_engine  # noqa: E402

__all__ = ["CLAIMED_CODES", "Engine", "replay_engine"]
