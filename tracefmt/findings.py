"""The one shape of a finding, shared by replay and every analyzer.

A finding says what disagreed (``code``), how bad it is, what best explains it, where (event index, time,
CPU, object) and what was expected versus observed. Replay's numba kernel emits rows of integers; the
``message`` column is rendered in Python afterwards. Codes are part of the output format: append, never
renumber.
"""

from __future__ import annotations

from enum import IntEnum

import polars as pl


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2


class Explanation(IntEnum):
    """What best explains a finding."""

    KERNEL = 0  # the recording disagrees with what the kernel must have done
    TRACE_LOSS = 1  # recorder loss (a sequence gap) nearby can account for it
    RECORDER = 2  # the record itself is malformed or impossible for any kernel
    INPUT = 3  # the model cannot accept the input (unknown id, out-of-range CPU or selector)
    ANALYSIS = 4  # an analyzer's judgement (latency outlier, lost interrupt, routing anomaly)


class FindingCode(IntEnum):
    """Finding codes. Replay codes 1..999 (replay/MODEL.md explains each), analyzers 1000+."""

    # --- replay: hypercall results
    STATUS_MISMATCH = 1  # HC_EXIT status differs from the model's
    OUT_MISMATCH = 2  # HC_EXIT out register (p1/p2) differs
    CREATED_MISMATCH = 3  # created object id where none was expected, or missing
    MISSING_EXIT = 4  # the model returned from a hypercall but no HC_EXIT was recorded
    UNEXPECTED_EXIT = 5  # an HC_EXIT with no open hypercall for that EC
    # --- replay: kernel outputs
    MISSING_EVENT = 10  # the model produced an output event that the trace lacks
    UNEXPECTED_EVENT = 11  # the trace has an output event the model did not produce
    WORD_MISMATCH = 12  # an output event's word differs (counter, woken EC, reason ...)
    SCHED_NOT_HIGHEST = 13  # a switch chose an SC that is not the highest-priority ready one
    IMPOSSIBLE_ARRIVAL = 14  # an interrupt arrived that the modelled controller could not deliver (masked, active)
    EARLY_TIMEOUT = 15  # a timer fired before the deadline it was armed for
    # --- replay: inputs the model cannot take
    UNKNOWN_OBJECT = 20  # an id no OBJ_CREATED / HC_EXIT introduced
    BAD_INPUT_CPU = 21  # CPU or selector out of range for the platform
    CURRENT_EC_MISMATCH = 22  # the ec column disagrees with the model's current EC
    TYPE_MISMATCH = 23  # an id is used as an object of another type than it is known as
    SELECTOR_ALIASED = 24  # a hypercall selector >= 2^18: NOVA silently uses its low 18 bits
    BAD_RECORD = 25  # a record no kernel could write (invalid status word, unknown enumeration value)
    # --- replay: knowledge (the model's own state, not a divergence)
    COLD_START = 30  # the trace starts mid-run (no boot announcements): kernel state seeded unknown
    TRACE_GAP = 31  # records lost on a CPU: the state they could have changed is unknown until observed
    BOOT_INCOMPLETE = 32  # the boot announcements lack an object the kernel always creates
    # --- analyzers
    LATENCY_OUTLIER = 1000
    LOST_INTERRUPT = 1001
    ROUTING_ANOMALY = 1002
    DIFF_SHIFT = 1003


FINDING_SCHEMA: dict[str, pl.DataType] = {
    "code": pl.UInt16(),
    "name": pl.String(),
    "severity": pl.String(),
    "explanation": pl.String(),
    "event": pl.Int64(),  # row index in the trace (-1 = not tied to one event)
    "ts": pl.Int64(),
    "cpu": pl.Int16(),
    "subject": pl.Int64(),  # object id (EC, SM, ...) or interrupt number
    "expected": pl.Int64(),
    "observed": pl.Int64(),
    "message": pl.String(),
}


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)
