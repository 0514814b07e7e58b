"""Capture: turning what a NOVA machine recorded into a trace.

* ``layout`` - the per-CPU recorder ring (``tracefmt/recorder.h``) as numpy dtypes;
* ``rings`` - decode ring dumps into the event table (``novatrace import rings``);
* ``ringwrite`` - write rings from events, as a kernel recorder would (tests, ``synth --format rings``);
* ``console`` / ``mbuf`` - import NOVA's console trace lines, from a serial capture or a memory-buffer
  dump (``novatrace import console``).

Submodules are imported on use; the ones with numba kernels need the cache configured first.
"""

from tracefmt import jit

jit.configure()
