"""The reference model's contract: entry point, snapshot shape, state at an event, model override."""

from __future__ import annotations

import json

from test_reference_support import ROOT_PD, booted, codes, hc, run, x86

from replay.reference import emit_boot, replay_reference
from tracefmt.builder import TraceBuilder
from tracefmt.events import Kind, UpCause
from tracefmt.nova import FlagCtrlSm, Hc, Status


def test_boot_alone_replays_clean_and_builds_the_root_space() -> None:
    b, ids = booted(x86())
    r = run(b)
    assert codes(r) == []
    s = r.snapshot()
    caps = {(c["space"], c["sel"]): (c["obj"], c["perms"]) for c in s["caps"]}
    # root object space (domain.md 3.4): NOVA OBJ (TAKE), root OBJ 0x3, root PD 0x1f, root EC 0xd, root SC 0x1
    assert caps[(ids.root_obj, 0x3FFFF)] == (ids.nova_obj, 0x2)
    assert caps[(ids.root_obj, 0x3FFFE)] == (ids.root_obj, 0x3)
    assert caps[(ids.root_obj, 0x3FFFD)] == (ids.root_pd, 0x1F)
    assert caps[(ids.root_obj, 0x3FFFC)] == (ids.root_ec, 0xD)
    assert caps[(ids.root_obj, 0x3FFFB)] == (ids.root_sc, 0x1)
    # NOVA space: console SM 0x3, interrupt SM 5 at 0x10005 with 0x12, idle SC of CPU 1 at 1 with CTRL
    assert caps[(ids.nova_obj, 0x3FFFF)] == (ids.console, 0x3)
    assert caps[(ids.nova_obj, 0x10005)] == (ids.int_sm[5], 0x12)
    assert caps[(ids.nova_obj, 1)] == (ids.idle_sc[1], 0x1)
    cpu0, cpu1 = s["cpus"]
    assert (cpu0["current_ec"], cpu0["current_sc"]) == (ids.root_ec, ids.root_sc)
    assert (cpu1["current_ec"], cpu1["current_sc"]) == (ids.idle_ec[1], ids.idle_sc[1])
    assert cpu0["ready"] == [ids.idle_sc[0]]


def test_snapshot_is_canonical_json() -> None:
    b, _ = booted(x86())
    s = run(b).snapshot()
    text = json.dumps(s, sort_keys=True)
    assert json.loads(text) == s
    ids = [o["id"] for o in s["objects"]]
    assert ids == sorted(ids)


def test_missing_boot_switch_is_reported_at_the_next_input() -> None:
    b = TraceBuilder(x86())
    ids = emit_boot(b, switch=False)  # the recorder lost nothing, but the kernel did not switch
    r = run(b)
    assert codes(r) == []  # nothing after it: the end of a trace flushes nothing (MODEL.md 2.6)
    i = hc(b, ids.root_ec, Hc.CTRL_SM, sel=ROOT_PD, flags=FlagCtrlSm.D, status=None)
    r = run(b)
    # the expected switch is missing at the root's HC_ENTRY; the root then runs: its ec column is learned
    assert [(f.code, f.event, f.detail) for f in r.findings] == [(10, i, int(Kind.SCHED_SWITCH))]


def test_state_at_an_event_index_and_time() -> None:
    b, ids = booted(x86())
    created = 0x5000
    hc(b, ids.root_ec, Hc.CREATE_SM, sel=0x100, p1=ROOT_PD, p2=7, created=created)
    t_up = b.ts
    hc_entry = b.hc_entry(0, ids.root_ec, Hc.CTRL_SM, sel=0x100)
    b.event(0, Kind.SM_UP, ec=ids.root_ec, sm=created, counter=8, woken=0, up_cause=UpCause.HYPERCALL, irq=-1)
    b.hc_exit(0, ids.root_ec, Hc.CTRL_SM, Status.SUCCESS)
    sm_at = {
        n: next(o for o in run(b, stop_after=n).snapshot()["objects"] if o["id"] == created)["counter"]
        for n in (hc_entry, hc_entry + 1)
    }
    assert sm_at == {hc_entry: 7, hc_entry + 1: 8}
    before = run(b, stop_at_ts=t_up - 1).snapshot()
    assert before["position"]["events"] == hc_entry
    assert replay_reference(b.platform, [b.batch()]).findings == []


def test_model_override_reads_the_hc_column_again() -> None:
    """nova-2024 number 0x7 is ctrl_pd; replayed as nova-2026 it is create_dc (domain.md 10.1)."""
    b, ids = booted(x86())
    # ctrl_pd with misaligned bases: BAD_PAR in nova-2024
    hc(b, ids.root_ec, Hc.CTRL_PD, sel=0x3FFFE, p1=0x3FFFE, p2=(1 << 12) | 1, p3=0, status=Status.BAD_PAR)
    assert run(b).findings == []
    r = run(b, model_api="nova-2026")
    assert r.api == "nova-2026"
    # as nova-2026 the same registers are create_dc(sel=ROOT_OBJ...): the selector is occupied -> BAD_CAP
    assert [(f.code, f.expected, f.observed) for f in r.findings] == [(1, int(Status.BAD_CAP), int(Status.BAD_PAR))]
