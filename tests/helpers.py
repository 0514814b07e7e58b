"""Small trace factories for tests (hand-written events, no synthesizer)."""

from __future__ import annotations

from tracefmt.builder import TraceBuilder
from tracefmt.events import KIND_ARGS, WORD_ENUMS, Kind
from tracefmt.nova import Hc
from tracefmt.platform import Platform, example_x86

EC = 0x7FFF_8000_0000_1000  # an EC address (fits int64 as is)
HIGH_EC = 0xFFFF_8000_0000_2000  # a kernel-half address: stored bit-cast (negative int64)


def one_of_every_kind(platform: Platform | None = None) -> TraceBuilder:
    """A trace with at least one event of every kind, each word set to a distinct, in-range value."""
    b = TraceBuilder(platform or example_x86(cpus=4))
    for i, kind in enumerate(KIND_ARGS):
        cpu = i % b.platform.cpus
        if kind is Kind.HC_ENTRY:
            b.hc_entry(cpu, HIGH_EC, Hc.CTRL_SM, sel=0x1234, flags=1, p1=0xFFFF_FFFF_FFFF_FFFF, p2=2, p3=3, p4=4)
        elif kind is Kind.HC_EXIT:
            b.hc_exit(cpu, HIGH_EC, Hc.CTRL_SM, 0x5, out_p1=7, out_p2=8, created=HIGH_EC)
        else:
            words = {}
            for w, name in enumerate(KIND_ARGS[kind].args):
                if name in WORD_ENUMS:
                    words[name] = max(WORD_ENUMS[name])  # the largest valid member
                elif name in ("target_cpu", "source_cpu"):
                    words[name] = b.platform.cpus - 1
                elif name:
                    words[name] = -(i * 16 + w) if w % 2 else HIGH_EC + i * 16 + w  # distinct, both signs
            b.event(cpu, kind, ec=EC + i, **words)
    return b
