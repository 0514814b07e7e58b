"""The finding tuple replay emits, its default severities, and the one-line message (MODEL.md 1.1, 11)."""

from __future__ import annotations

from typing import Any, NamedTuple

from tracefmt.events import KIND_ARGS, KIND_NAMES, Kind
from tracefmt.findings import Explanation, FindingCode, Severity
from tracefmt.nova import HC_NAMES, STATUS_NAMES


class Finding(NamedTuple):
    code: int
    severity: int
    explanation: int
    event: int  # global row index (-1 = end of trace)
    ts: int
    cpu: int
    subject: int
    expected: int
    observed: int
    detail: int  # word index (WORD_MISMATCH), Hc code (hypercall findings), Kind (MISSING_EVENT), else -1


INFO_CODES = frozenset({FindingCode.COLD_START, FindingCode.TRACE_GAP, FindingCode.SELECTOR_ALIASED})


def severity_of(code: int, explanation: int) -> int:
    """Default severity: INFO codes, WARNING when loss/recorder explain it, ERROR otherwise."""
    if code in INFO_CODES:
        return int(Severity.INFO)
    if code == FindingCode.UNKNOWN_OBJECT and explanation == Explanation.TRACE_LOSS:
        return int(Severity.INFO)
    if code == FindingCode.BOOT_INCOMPLETE:
        return int(Severity.WARNING)
    if explanation in (Explanation.TRACE_LOSS, Explanation.RECORDER):
        return int(Severity.WARNING)
    return int(Severity.ERROR)


def _word_name(kind: int, detail: int) -> str:
    if detail == 5:
        return "ec"
    try:
        return KIND_ARGS[Kind(kind)].args[detail] or f"a{detail}"
    except (ValueError, IndexError):
        return f"a{detail}"


def describe(f: Finding, kind: int | None = None) -> str:
    """One line saying what disagreed; ``kind`` = the event's kind when known (names the word)."""
    code = FindingCode(f.code)
    hc = HC_NAMES.get(f.detail, str(f.detail))
    if code == FindingCode.STATUS_MISMATCH:
        exp = STATUS_NAMES.get(f.expected, str(f.expected))
        obs = STATUS_NAMES.get(f.observed, str(f.observed))
        return f"{hc} of EC {f.subject:#x} returned {obs}, the model expects {exp}"
    if code == FindingCode.OUT_MISMATCH:
        return f"{hc} of EC {f.subject:#x} returned out value {f.observed:#x}, the model expects {f.expected:#x}"
    if code == FindingCode.CREATED_MISMATCH:
        return f"{hc} of EC {f.subject:#x} reports created object {f.observed:#x}, the model expects {f.expected:#x}"
    if code == FindingCode.MISSING_EXIT:
        return f"{hc} of EC {f.subject:#x} should have returned before this event"
    if code == FindingCode.UNEXPECTED_EXIT:
        return f"HC_EXIT of EC {f.subject:#x}, which is not in a hypercall"
    if code == FindingCode.MISSING_EVENT:
        return f"expected {KIND_NAMES.get(f.detail, f.detail)} (subject {f.subject:#x}) was not recorded"
    if code == FindingCode.UNEXPECTED_EVENT:
        return f"{KIND_NAMES.get(kind or -1, 'event')} (subject {f.subject:#x}) that the kernel model does not produce"
    if code == FindingCode.WORD_MISMATCH:
        word = _word_name(kind if kind is not None else -1, f.detail)
        return f"{KIND_NAMES.get(kind or -1, 'event')} {word} is {f.observed:#x}, the model expects {f.expected:#x}"
    if code == FindingCode.SCHED_NOT_HIGHEST:
        return f"switch to SC {f.observed:#x} while SC {f.expected:#x} of higher priority is ready"
    if code == FindingCode.IMPOSSIBLE_ARRIVAL:
        return f"interrupt {f.subject} arrived although it is masked, active or unmapped"
    if code == FindingCode.EARLY_TIMEOUT:
        return f"timeout of {f.subject:#x} fired at {f.observed}, before its deadline {f.expected}"
    if code == FindingCode.UNKNOWN_OBJECT:
        return f"object {f.subject:#x} was never introduced"
    if code == FindingCode.BAD_INPUT_CPU:
        return f"CPU {f.observed} is outside the platform"
    if code == FindingCode.CURRENT_EC_MISMATCH:
        return f"event names EC {f.observed:#x} as current, the model has EC {f.expected:#x}"
    if code == FindingCode.TYPE_MISMATCH:
        return f"object {f.subject:#x} used as type {f.observed}, known as type {f.expected}"
    if code == FindingCode.SELECTOR_ALIASED:
        return f"selector {f.observed:#x} is beyond 2^18; NOVA uses {f.expected:#x}"
    if code == FindingCode.BAD_RECORD:
        return f"record value {f.observed:#x} is impossible for any kernel"
    if code == FindingCode.COLD_START:
        return "trace starts mid-run without boot announcements: kernel state seeded unknown"
    if code == FindingCode.TRACE_GAP:
        return f"{f.subject} records lost on CPU {f.cpu}: affected state unknown until observed again"
    if code == FindingCode.BOOT_INCOMPLETE:
        return f"boot announcements lack the object at selector {f.subject:#x}"
    return code.name


def findings_frame(findings: list[Finding], kinds: Any = None) -> Any:
    """A polars DataFrame in ``tracefmt.findings.FINDING_SCHEMA`` (polars imported lazily)."""
    import polars as pl

    from tracefmt.findings import FINDING_SCHEMA

    rows = []
    for f in findings:
        kind = int(kinds[f.event]) if kinds is not None and f.event >= 0 else None
        rows.append(
            {
                "code": f.code,
                "name": FindingCode(f.code).name,
                "severity": Severity(f.severity).name,
                "explanation": Explanation(f.explanation).name,
                "event": f.event,
                "ts": f.ts,
                "cpu": f.cpu,
                "subject": f.subject,
                "expected": f.expected,
                "observed": f.observed,
                "message": describe(f, kind),
            }
        )
    return pl.DataFrame(rows, schema=FINDING_SCHEMA)
