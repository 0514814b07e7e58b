"""Workload synthesizer: realistic NOVA traces with injected faults and ground truth (issue 3)."""
