"""``novatrace state --at`` and its checkpoints: a resumed state equals a full replay, bad checkpoints are
ignored with one warning, the cache can be turned off, times parse and out-of-trace times are one-line errors.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from test_reference_support import ROOT_EC, ROOT_PD, ROOT_SC
from test_tables import mixed_trace

from cli.main import UserError, main
from cli.state import parse_id, parse_ts, unusual_irqs
from replay.checkpoint import dumps, state_at, trace_key
from replay.reference import replay_reference
from replay.reference.api import recorded_kinds
from tracefmt.io import TraceReader, open_trace


def canon(snap: dict) -> str:
    return json.dumps(snap, sort_keys=True)


@pytest.fixture(scope="module")
def trace(tmp_path_factory) -> Path:
    return mixed_trace().b.write(tmp_path_factory.mktemp("state") / "t.parquet")


def full(reader: TraceReader, at: int):
    return replay_reference(
        reader.platform, reader.batches(), stop_at_ts=at, recorded=recorded_kinds(reader.meta.provenance)
    )


def test_resumed_state_equals_full_replay_at_every_time(trace: Path, tmp_path: Path) -> None:
    r = open_trace(trace)
    ts = r.read_all().ts.tolist()
    times = sorted({*ts[::5], ts[-1], ts[232], ts[233], ts[-1] + 10})  # around the end of boot and past the end
    first = state_at(r, ts[-1], every=16, root=tmp_path)  # writes the checkpoints
    assert first.resumed_from == 0 and first.saved == len(ts) // 16 and not first.warnings
    resumed = 0
    for at in times:
        got = state_at(r, at, every=16, root=tmp_path)
        want = full(r, at)
        assert canon(got.result.snapshot()) == canon(want.snapshot()), at
        assert got.result.findings == want.findings
        assert got.saved == 0 and not got.warnings
        assert got.resumed_from <= sum(t <= at for t in ts)
        resumed = max(resumed, got.resumed_from)
    assert resumed == (len(ts) // 16) * 16  # late queries start from the newest checkpoint


def test_without_cache_nothing_is_written(trace: Path, tmp_path: Path) -> None:
    r = open_trace(trace)
    at = int(r.read_all().ts[-3])
    got = state_at(r, at, use_cache=False, every=16, root=tmp_path)
    assert (got.resumed_from, got.saved) == (0, 0)
    assert canon(got.result.snapshot()) == canon(full(r, at).snapshot())
    assert not any(tmp_path.iterdir())


def test_corrupt_and_stale_checkpoints_are_ignored_with_one_warning(trace: Path, tmp_path: Path) -> None:
    r = open_trace(trace)
    ts = r.read_all().ts.tolist()
    state_at(r, ts[-1], every=50, root=tmp_path)
    ckpts = sorted(tmp_path.rglob("*.ckpt"), key=lambda p: int(p.stem.split("-")[0]))
    assert len(ckpts) == len(ts) // 50
    for bad in ckpts[-2:]:
        bad.write_bytes(bad.read_bytes()[:100] + b"garbage")  # cut and damaged
    got = state_at(r, ts[-1], every=50, root=tmp_path)
    assert len(got.warnings) == 1 and str(ckpts[-1]) in got.warnings[0] and "1 more" in got.warnings[0]
    assert got.resumed_from == int(ckpts[-3].stem.split("-")[0])  # the newest good one
    assert canon(got.result.snapshot()) == canon(full(r, ts[-1]).snapshot())
    assert sorted(tmp_path.rglob("*.ckpt")) == sorted(ckpts)  # the damaged ones were written again
    # stale: checkpoints written under another key (another trace or model version) are not resumed
    for c in ckpts:
        with open(c, "rb") as f:
            header = pickle.load(f)
            rest = f.read()
        with open(c, "wb") as f:
            pickle.dump({**header, "key": "another trace"}, f)
            f.write(rest)
    got = state_at(r, ts[-1], every=50, root=tmp_path)
    assert len(got.warnings) == 1 and "stale" in got.warnings[0]
    assert got.resumed_from == 0
    assert canon(got.result.snapshot()) == canon(full(r, ts[-1]).snapshot())


def test_cache_key_follows_the_file_and_the_model(trace: Path, tmp_path: Path) -> None:
    a = trace_key(open_trace(trace), "nova-2024", None)
    assert a == trace_key(open_trace(trace), "nova-2024", None)
    assert a != trace_key(open_trace(trace), "nova-2026", None)
    copy = tmp_path / "copy.parquet"
    data = bytearray(trace.read_bytes())
    data[-100] ^= 0xFF  # same size, a different footer byte
    copy.write_bytes(bytes(data))
    st = trace.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime
    r = TraceReader.__new__(TraceReader)  # the footer byte makes it unreadable as Parquet: key it directly
    r.path = copy
    assert a != trace_key(r, "nova-2024", None)


class Node:
    pass


def test_pickler_keeps_closures_and_their_cycles() -> None:
    def make() -> Node:
        n = Node()
        n.count = 3
        n.forget = lambda k: n.count + k  # a closure over the object that holds it (like call.forget)
        return n

    n2 = pickle.loads(dumps(make()))
    assert n2.forget(4) == 7
    n2.count = 10
    assert n2.forget(1) == 11  # the closure sees the restored object, not a copy


# --- CLI ---------------------------------------------------------------------------------------------------------


def test_parse_ts_and_ids() -> None:
    assert parse_ts("123", 1000, 2_000_000_000) == 123
    assert parse_ts("0x10", 1000, 2_000_000_000) == 16
    assert parse_ts("+1.5s", 1000, 2_000_000_000) == 1000 + 3_000_000_000
    assert parse_ts("+2ms", 0, 1_000_000) == 2000
    assert parse_ts("+3us", 5, 1_000_000) == 8
    with pytest.raises(UserError):
        parse_ts("soon", 0, 1)
    assert parse_id("0xffff800000000040") == 0xFFFF800000000040 - (1 << 64)
    assert parse_id("-5") == -5
    with pytest.raises(UserError):
        parse_id("pd")


def test_state_json_is_the_model_state_and_lists_the_pd_caps(trace: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    r = open_trace(trace)
    at = int(r.read_all().ts[-1])
    want = full(r, at).snapshot()
    root_pd = next(o["id"] for o in want["objects"] if o["type"] == "PD" and o["subtype"] == "PD")
    assert main(["state", str(trace), "--at", str(at), "--pd", hex(root_pd & (2**64 - 1)), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert canon(got["state"]) == canon(want)
    assert got["at"] == at and got["pd"] == root_pd
    by_sel = {c["sel"]: c["obj"] for c in got["pd_caps"]}
    objs = {o["id"]: o for o in want["objects"]}
    # the root task's own space (domain.md 3.4): itself, its EC and the SC that runs that EC at the top selectors
    assert by_sel[ROOT_PD] == root_pd
    assert objs[by_sel[ROOT_EC]]["type"] == "EC" and objs[by_sel[ROOT_EC]]["pd"] == root_pd
    assert objs[by_sel[ROOT_SC]]["ec"] == by_sel[ROOT_EC]


def test_state_relative_time_human_output_and_no_cache(trace: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    r = open_trace(trace)
    ts = r.read_all().ts
    rel = (int(ts[-1]) - int(ts[0])) / r.platform.stc_hz
    assert main(["state", str(trace), "--at", f"+{rel:.12f}s", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert f"after {len(ts):,} events" in out and "CPUs and run queues" in out and "semaphores" in out
    assert not (tmp_path / "novatrace").exists()


def test_state_errors_are_one_line(trace: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ts = open_trace(trace).read_all().ts
    for args in (["--at", str(int(ts[0]) - 1)], ["--at", str(int(ts[-1]) + 1)], ["--at", "+99s"], ["--at", "x"]):
        assert main(["state", str(trace), *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err, args
    assert main(["state", str(trace), "--at", str(int(ts[-1])), "--pd", "0x1234"]) == 2
    assert "no protection domain" in capsys.readouterr().err


def test_unusual_interrupts_are_those_off_their_kinds_common_state() -> None:
    base = {"kind": "X86_PIN", "cpu": 0, "src": 0, "flags": 1, "vec": None, "dc": 0, "idx": None, "masked": True}
    irqs = [{**base, "irq": n, "active": False} for n in range(5)]
    irqs[3] = {**irqs[3], "masked": False}
    irqs.append({**base, "kind": "X86_MSI", "irq": 9, "active": False})  # alone of its kind: shown
    assert [e["irq"] for e in unusual_irqs(irqs)] == [3, 9]


def test_progress_counts_every_event_consumed_or_skipped(trace: Path, tmp_path: Path) -> None:
    r = open_trace(trace)
    ts = r.read_all().ts.tolist()
    for use_cache in (False, True, True):  # the second cached query resumes from a checkpoint
        told: list[int] = []
        got = state_at(r, ts[200], use_cache=use_cache, every=64, root=tmp_path, advance=told.append)
        assert sum(told) == got.result.events == sum(t <= ts[200] for t in ts)
    assert got.resumed_from == 192
