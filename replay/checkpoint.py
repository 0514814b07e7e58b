"""Kernel state at a time, from the reference model, resumed from saved checkpoints instead of the trace start.

While replaying, the whole ``ReferenceModel`` is pickled every ``every`` events into a cache directory
keyed by the trace's content identity (file size, mtime, the file's last 64 KiB - the Parquet footer with
its metadata, or the tail of an IPC stream - and the hash of novatrace's sources, so a model change never
resumes an old state). A later query resumes from the newest checkpoint at or before its time.

The model keeps a few closures on open hypercalls (``call.forget``); plain pickle refuses them, so
:class:`_Pickler` stores such functions by their code object (``marshal``, same Python version: the cache
key includes it) and refills their closure cells after the cells' contents were restored (cycles allowed).
Checkpoints are a private cache of this user: only files this module wrote are ever unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import marshal
import os
import pickle
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replay.reference.api import Result, recorded_kinds, rehc
from replay.reference.model import ReferenceModel
from tracefmt.io import TraceReader
from tracefmt.jit import source_hash
from tracefmt.schema import EventBatch

FORMAT = 1  # bump when the file layout changes
DEFAULT_EVERY = 10_000  # events between checkpoints (a checkpoint: ~40 KB and ~3 ms; replay: ~25k events/s)
_TAIL = 1 << 16


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "novatrace" / "checkpoints"


def trace_key(reader: TraceReader, api: str, recorded: frozenset[int] | None) -> str:
    """Content identity of the trace + the model that replays it (hex digest)."""
    st = reader.path.stat()
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT, st.st_size, st.st_mtime_ns, api, sorted(recorded or []), sys.version]).encode())
    h.update(_sources().encode())
    with open(reader.path, "rb") as f:
        f.seek(max(0, st.st_size - _TAIL))
        h.update(f.read())
    return h.hexdigest()[:32]


def _sources() -> str:
    """Hash of novatrace's sources; a file replaced while it is read (an edit in a checkout) gets a retry."""
    for _ in range(3):
        try:
            return source_hash()
        except OSError:
            continue
    return source_hash()


# --- pickling closures ---------------------------------------------------------------------------------------


def _make_function(code: bytes, module: str, name: str, defaults: tuple[Any, ...] | None, ncells: int) -> Any:
    cells = tuple(types.CellType() for _ in range(ncells)) or None
    return types.FunctionType(marshal.loads(code), importlib.import_module(module).__dict__, name, defaults, cells)


def _fill_cells(fn: Any, contents: tuple[Any, ...]) -> None:
    for cell, value in zip(fn.__closure__ or (), contents, strict=True):
        if value is not _EMPTY_CELL:
            cell.cell_contents = value


class _EmptyCell:
    def __reduce__(self) -> str:
        return "_EMPTY_CELL"


_EMPTY_CELL = _EmptyCell()


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, types.FunctionType) or "<" not in obj.__qualname__:
            return NotImplemented  # importable functions and everything else: as usual
        contents = []
        for cell in obj.__closure__ or ():
            try:
                contents.append(cell.cell_contents)
            except ValueError:
                contents.append(_EMPTY_CELL)
        args = (marshal.dumps(obj.__code__), obj.__module__, obj.__name__, obj.__defaults__, len(contents))
        return _make_function, args, tuple(contents), None, None, _fill_cells


def dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


# --- the cache -----------------------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    events: int  # events consumed
    ts: int  # ts of the last consumed event
    path: Path


@dataclass
class StateAt:
    """The answer of :func:`state_at`: the model after every event with ``ts <= at``."""

    result: Result
    resumed_from: int  # events the checkpoint had consumed (0 = replayed from the start)
    saved: int  # checkpoints written by this query
    warnings: list[str] = field(default_factory=list)


class Cache:
    """Checkpoint files of one trace + model: ``<root>/<key>/<events>.ckpt``."""

    def __init__(self, directory: Path, key: str) -> None:
        self.dir = directory
        self.key = key
        self.warnings: list[str] = []

    def list(self) -> list[Checkpoint]:
        out = []
        try:
            names = list(self.dir.glob("*.ckpt"))
        except OSError:
            return []
        for p in names:
            try:
                events, ts = (int(x) for x in p.stem.split("-"))
            except ValueError:
                continue
            out.append(Checkpoint(events, ts, p))
        return sorted(out, key=lambda c: c.events)

    def load(self, c: Checkpoint) -> ReferenceModel | None:
        """The model saved in ``c``; None (and one warning) if it is unreadable or not this trace's."""
        try:
            with open(c.path, "rb") as f:
                header = pickle.load(f)
                if header != {"format": FORMAT, "key": self.key, "events": c.events, "ts": c.ts}:
                    raise ValueError("stale checkpoint (written for another trace or version)")
                m = pickle.load(f)
            if not isinstance(m, ReferenceModel) or m.events != c.events or m.last_ts != c.ts:
                raise ValueError("checkpoint does not hold the state it names")
        except Exception as e:  # a corrupt pickle can raise almost anything: ignore the file
            self.warnings.append(f"ignoring checkpoint {c.path} ({type(e).__name__}: {str(e)[:120]})")
            with contextlib.suppress(OSError):
                c.path.unlink()
            return None
        return m

    def save(self, m: ReferenceModel) -> bool:
        path = self.dir / f"{m.events}-{m.last_ts}.ckpt"
        tmp = path.with_name(path.name + ".partial")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                pickle.dump({"format": FORMAT, "key": self.key, "events": m.events, "ts": m.last_ts}, f)
                f.write(dumps(m))
            tmp.replace(path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as e:
            self.warnings.append(f"cannot write checkpoint {path} ({type(e).__name__}: {str(e)[:120]})")
            with contextlib.suppress(OSError):
                tmp.unlink()
            return False
        return True


def _events_from(reader: TraceReader, start: int, api: str) -> Iterator[EventBatch]:
    """The trace's batches from global event ``start`` on (hc recomputed under ``api``)."""
    pos = 0
    for b in reader.batches():
        if pos + b.n > start:
            yield rehc(b.slice(start - pos, b.n) if start > pos else b, api)
        pos += b.n


def state_at(
    reader: TraceReader,
    at: int,
    model_api: str | None = None,
    use_cache: bool = True,
    every: int = DEFAULT_EVERY,
    root: Path | None = None,
    advance: Callable[[int], None] | None = None,
) -> StateAt:
    """Replay ``reader`` with the reference model up to and including every event with ``ts <= at``.

    Equal to ``replay_reference(platform, batches, model_api, stop_at_ts=at, recorded=...)``; with the cache it
    starts from the newest checkpoint whose last event is at or before ``at`` and saves a checkpoint every
    ``every`` events it passes beyond the newest one. ``advance(n)`` is told every event consumed or skipped.
    """
    recorded = recorded_kinds(reader.meta.provenance)
    m = ReferenceModel(reader.platform, model_api, recorded)
    api = m.api
    cache = None
    newest = 0
    if use_cache:
        key = trace_key(reader, api, recorded)
        cache = Cache((root or cache_root()) / key, key)
        for c in reversed([c for c in cache.list() if c.ts <= at]):
            loaded = cache.load(c)
            if loaded is not None:
                m = loaded
                break
        newest = max((c.events for c in cache.list()), default=0)  # bad files are gone: written again
    resumed = m.events
    tell = advance or (lambda n: None)
    tell(resumed)
    saved = 0
    stopped = False
    for b in _events_from(reader, resumed, api):
        off = 0
        while off < b.n and not stopped:
            part = b if off == 0 else b.slice(off, b.n)
            before = m.events
            if cache is None:
                stopped = not m.feed(part, None, at)
                tell(m.events - before)
                break
            nxt = (m.events // every + 1) * every
            part = part.slice(0, min(part.n, nxt - m.events))  # the model converts what it is fed to lists
            stopped = not m.feed(part, None, at)  # an event after ``at`` came first
            off += m.events - before
            tell(m.events - before)
            if m.events == nxt and nxt > newest and cache.save(m):
                saved += 1
        if stopped:
            break
    if not stopped:
        m.finish()  # the whole trace was consumed (as replay_reference does)
    return StateAt(Result(m), resumed, saved, _one_warning(cache.warnings) if cache is not None else [])


def _one_warning(problems: list[str]) -> list[str]:
    """However many checkpoints were bad, the user hears about it once."""
    if len(problems) <= 1:
        return problems
    return [f"{problems[0]}; and {len(problems) - 1} more checkpoint problem(s) in the same cache"]
