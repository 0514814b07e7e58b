"""Plain-Python reference model of the NOVA kernel for replay: the oracle the numba engine is tested against.

Slow and readable on purpose (dicts, lists, Python ints; no numba, no polars in the core). The rules are
specified in ``replay/MODEL.md``; ``replay_reference`` is the entry point.
"""

from replay.reference.api import Result, replay_reference
from replay.reference.boot import BootIds, boot_ids, emit_boot
from replay.reference.finding import Finding, describe, findings_frame
from replay.reference.model import ReferenceModel

__all__ = [
    "BootIds",
    "Finding",
    "ReferenceModel",
    "Result",
    "boot_ids",
    "describe",
    "emit_boot",
    "findings_frame",
    "replay_reference",
]
