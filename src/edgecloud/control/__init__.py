"""Runespoor's content-aware adaptive controller (CAC): tail-frame detection, tail-aware
profiling and the knob controller."""
