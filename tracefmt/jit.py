"""Numba cache location keyed by the content of novatrace's own sources.

Numba's ``cache=True`` checks only the source file of the jitted function: constants imported from another
module (``tracefmt.nova``, ``tracefmt.events``) are frozen into the cached machine code and go stale when
that module changes. Pointing ``NUMBA_CACHE_DIR`` at a directory named after a hash of every novatrace
source file makes any change start a fresh cache. Call :func:`configure` before the first ``import numba``
(every package with numba kernels does so in its ``__init__``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

_PACKAGES = ("tracefmt", "replay", "synth", "analyzers")
_MAX_AGE_S = 3 * 24 * 3600  # caches of source versions unused this long are removed
_configured = False


def source_hash() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in _PACKAGES:
        for f in sorted((root / pkg).rglob("*.py")):
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return base / "novatrace" / "numba" / f"{py}-{source_hash()}"


def configure() -> None:
    """Set the numba cache directory unless the user chose one (idempotent)."""
    global _configured
    if _configured:
        return
    _configured = True
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    target = cache_dir()
    if target.exists():
        os.utime(target)  # mark as in use so _prune keeps it
    _prune(target)
    path = str(target)
    os.environ["NUMBA_CACHE_DIR"] = path
    numba = sys.modules.get("numba")
    if numba is not None:  # already imported: numba reads the setting when a function is decorated
        numba.config.CACHE_DIR = path


def _prune(target: Path) -> None:
    """Remove caches of source versions not used for a few days (each edit makes a new directory)."""
    import shutil
    import time

    try:
        old = [d for d in target.parent.iterdir() if d != target and time.time() - d.stat().st_mtime > _MAX_AGE_S]
    except OSError:
        return
    for d in old:
        shutil.rmtree(d, ignore_errors=True)
