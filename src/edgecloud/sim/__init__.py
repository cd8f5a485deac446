"""Trace-driven discrete-event simulator: engine, latency sources, model server and scenarios."""
