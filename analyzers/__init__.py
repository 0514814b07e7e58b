"""Analyzers over replayed traces: latency, lost interrupts, routing, version diff."""
