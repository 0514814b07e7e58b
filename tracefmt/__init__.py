"""novatrace's trace format: constants, schema, platform description, I/O and validation.

Everything else in novatrace imports its constants from here (``tracefmt.nova`` for kernel ABI numbers,
``tracefmt.events`` for event kinds). FORMAT.md in this folder documents the format for other tools.
"""

from tracefmt.errors import (
    CorruptTraceError,
    NotATraceError,
    PlatformError,
    TraceError,
    TraceValidationError,
    VersionError,
)
from tracefmt.events import KIND_ARGS, Kind
from tracefmt.io import TraceReader, TraceWriter, open_trace, write_trace
from tracefmt.meta import TraceMeta
from tracefmt.platform import Platform
from tracefmt.schema import COLUMNS, FORMAT_VERSION, EventBatch

__all__ = [
    "COLUMNS",
    "FORMAT_VERSION",
    "KIND_ARGS",
    "CorruptTraceError",
    "EventBatch",
    "Kind",
    "NotATraceError",
    "Platform",
    "PlatformError",
    "TraceError",
    "TraceMeta",
    "TraceReader",
    "TraceValidationError",
    "TraceWriter",
    "VersionError",
    "open_trace",
    "write_trace",
]
