"""Shared test setup: hypothesis profiles, numba cache location, small platforms and traces."""

from __future__ import annotations

import os

from hypothesis import settings

from tracefmt.jit import configure

configure()  # before anything imports numba

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("nightly", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
