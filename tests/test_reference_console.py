"""A console import (FORMAT.md 9) is a partial trace: no HC_EXIT, no scheduling, no interrupts. Replay
reconstructs the state from it without expecting what NOVA never prints (MODEL.md 2.7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.reference import replay_reference
from replay.reference.api import CONSOLE_KINDS, recorded_kinds
from tracefmt.capture.console import read_console
from tracefmt.schema import COLUMNS, EventBatch

LOG = Path("/work/shared/nova/real-logs/aarch64-qemu-virt-gicv3.log")


@pytest.mark.skipif(not LOG.exists(), reason="the shared real NOVA console log is not on this machine")
def test_real_console_log_replays_as_a_partial_trace() -> None:
    imp = read_console(LOG)
    b = EventBatch(*(imp.columns[n] for n in COLUMNS))
    kinds = recorded_kinds(imp.provenance(LOG))
    assert kinds == frozenset(int(k) for k in CONSOLE_KINDS)
    r = replay_reference(imp.platform, b, recorded=kinds)
    assert r.findings == []
    s = r.snapshot()
    # line 275 of the log: the root's third create_sm (CNT:2) made SM 0xff8000fd6680 at selector 0x1002 (the
    # address of the failed second one, freed and reused - domain.md 12)
    sm = 0xFF8000FD6680
    assert next(o for o in s["objects"] if o["id"] == sm)["type"] == "SM"
    assert any(c["obj"] == sm and c["sel"] == 0x1002 for c in s["caps"])
    # read as a complete trace, the missing exits and switches would all be findings
    assert replay_reference(imp.platform, b).findings
