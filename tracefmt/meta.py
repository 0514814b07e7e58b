"""Trace-level metadata: format version, platform, provenance and string table, as Arrow schema metadata."""

from __future__ import annotations

import json
import platform as _pyplatform
from dataclasses import dataclass, field
from importlib import metadata as _importlib_metadata
from typing import Any

import pyarrow as pa

from tracefmt.errors import NotATraceError, VersionError
from tracefmt.events import KIND_NAMES
from tracefmt.platform import Platform
from tracefmt.schema import (
    ARROW_SCHEMA,
    COLUMNS,
    FORMAT_NAME,
    FORMAT_VERSION,
    META_FORMAT,
    META_KINDS,
    META_PLATFORM,
    META_PROVENANCE,
    META_STRINGS,
)


@dataclass(frozen=True)
class TraceMeta:
    """Everything about a trace except its events."""

    platform: Platform
    provenance: dict[str, Any] = field(default_factory=dict)
    strings: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION


def tool_provenance() -> dict[str, Any]:
    """Which software wrote a file (modelled on tskit's provenance record)."""

    def version(dist: str) -> str:
        try:
            return _importlib_metadata.version(dist)
        except _importlib_metadata.PackageNotFoundError:
            return "unknown"

    return {
        "name": "novatrace",
        "version": version("novatrace"),
        "python": _pyplatform.python_version(),
        "pyarrow": pa.__version__,
        "polars": version("polars"),
        "numpy": version("numpy"),
    }


def schema_with_meta(meta: TraceMeta) -> pa.Schema:
    prov = dict(meta.provenance)
    prov.setdefault("tool", tool_provenance())
    return ARROW_SCHEMA.with_metadata(
        {
            META_FORMAT: json.dumps({"name": FORMAT_NAME, "version": FORMAT_VERSION}),
            META_PLATFORM: meta.platform.to_json(),
            META_PROVENANCE: json.dumps(prov, sort_keys=True, default=str),
            META_STRINGS: json.dumps(list(meta.strings)),
            META_KINDS: json.dumps({str(k): v for k, v in KIND_NAMES.items()}),
        }
    )


def meta_from_schema(schema: pa.Schema, where: str) -> TraceMeta:
    """Check the schema is a novatrace event table of a version we read, and decode its metadata."""
    md = schema.metadata or {}
    if META_FORMAT not in md:
        raise NotATraceError(f"{where}: not a novatrace trace (no {META_FORMAT.decode()} metadata)")
    try:
        fmt = json.loads(md[META_FORMAT])
        name, version = fmt["name"], int(fmt["version"])
    except (ValueError, KeyError, TypeError):
        raise NotATraceError(f"{where}: unreadable {META_FORMAT.decode()} metadata") from None
    if name != FORMAT_NAME:
        raise NotATraceError(f"{where}: format {name!r} is not {FORMAT_NAME!r}")
    if version > FORMAT_VERSION:
        raise VersionError(
            f"{where}: trace format version {version} is newer than this novatrace reads ({FORMAT_VERSION}); "
            "upgrade novatrace"
        )
    if version < FORMAT_VERSION:
        raise VersionError(
            f"{where}: trace format version {version} is older than this novatrace reads ({FORMAT_VERSION}); "
            "re-create the trace"
        )
    for name, dt in COLUMNS.items():
        idx = schema.get_field_index(name)
        if idx < 0:
            raise NotATraceError(f"{where}: column {name!r} missing")
        if schema.field(idx).type != pa.from_numpy_dtype(dt):
            raise NotATraceError(f"{where}: column {name!r} has type {schema.field(idx).type}, expected {dt}")
    if META_PLATFORM not in md:
        from tracefmt.errors import PlatformError

        raise PlatformError(f"{where}: platform description missing")
    platform = Platform.from_json(md[META_PLATFORM], where)
    try:
        provenance = json.loads(md.get(META_PROVENANCE, b"{}"))
        strings = tuple(json.loads(md.get(META_STRINGS, b"[]")))
    except ValueError:
        raise NotATraceError(f"{where}: unreadable provenance or string table metadata") from None
    return TraceMeta(platform=platform, provenance=provenance, strings=strings, format_version=version)
