"""One exception tree for everything a user can get wrong with a trace file.

    TraceError                  a user-facing problem; ``str()`` is one line naming file and row/offset
    ├── NotATraceError          missing file, not Parquet/Arrow, or not a novatrace file
    ├── VersionError            format version newer or older than this tool reads
    ├── CorruptTraceError       a checksum mismatch or undecodable batch
    ├── PlatformError           platform description missing or inconsistent
    └── TraceValidationError    rows break the format's rules (unsorted, unknown kind, CPU out of range)

The CLI prints ``str(err)`` and exits 2 for these; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TraceError(Exception):
    """A problem with the input, explained in one line."""


class NotATraceError(TraceError):
    """The file does not exist, is empty, or is not a novatrace Parquet file / Arrow IPC stream."""


class VersionError(TraceError):
    """The file's format version is not one this tool reads."""


class CorruptTraceError(TraceError):
    """Stored data fails its checksum or cannot be decoded."""


class PlatformError(TraceError):
    """The platform description is missing or inconsistent."""


class TraceValidationError(TraceError):
    """The event rows violate the format (see FORMAT.md, "Validation")."""
