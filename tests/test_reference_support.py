"""Helpers for the reference-model tests: a booted trace and one-line hypercalls (no tests here).

Every expected outcome in the tests is written by hand from domain.md / MODEL.md; these helpers only
write the events a recorder would write for the boot (replay.reference.emit_boot) and hypercall pairs.
"""

from __future__ import annotations

from typing import Any

from replay.reference import BootIds, emit_boot, replay_reference
from replay.reference.api import Result
from tracefmt.builder import TraceBuilder
from tracefmt.findings import FindingCode
from tracefmt.nova import SELNUM, Hc, Status
from tracefmt.platform import Platform, example_arm, example_x86

# the root task's object space (domain.md 3.4)
NOVA_OBJ = SELNUM - 1
ROOT_OBJ = SELNUM - 2
ROOT_PD = SELNUM - 3
ROOT_EC = SELNUM - 4
ROOT_SC = SELNUM - 5


def x86(api: str = "nova-2024", cpus: int = 2, remapping: bool = True) -> Platform:
    return example_x86(cpus=cpus, api=api, remapping=remapping)


def arm(api: str = "nova-2024", cpus: int = 2) -> Platform:
    return example_arm(cpus=cpus, api=api)


def booted(platform: Platform) -> tuple[TraceBuilder, BootIds]:
    b = TraceBuilder(platform)
    return b, emit_boot(b)


def hc(
    b: TraceBuilder,
    ec: int,
    call: Hc,
    status: int | None = Status.SUCCESS,
    sel: int = 0,
    flags: int = 0,
    p1: int = 0,
    p2: int = 0,
    p3: int = 0,
    p4: int = 0,
    out1: int = 0,
    out2: int = 0,
    created: int = 0,
    cpu: int = 0,
) -> int:
    """HC_ENTRY and (unless status is None) its HC_EXIT; returns the HC_EXIT row index (or entry's)."""
    i = b.hc_entry(cpu, ec, call, sel=sel, flags=flags, p1=p1, p2=p2, p3=p3, p4=p4)
    if status is None:
        return i
    return b.hc_exit(cpu, ec, call, int(status), out_p1=out1, out_p2=out2, created=created)


def run(b: TraceBuilder, model_api: str | None = None, **kw: Any) -> Result:
    return replay_reference(b.platform, b.batch(), model_api=model_api, **kw)


def codes(r: Result) -> list[tuple[str, int]]:
    """(finding name, event index) of every finding, INFO ones included."""
    return [(FindingCode(f.code).name, f.event) for f in r.findings]


def clean(r: Result) -> bool:
    return not r.findings
