"""Replay engine: NOVA kernel state machine re-executing a trace (issue 4)."""
