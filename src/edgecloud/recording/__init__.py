"""Recordings of model runs that the simulator replays without torch.

Detection recordings (per-frame detections, latency, encoded size and ground truth) live in
:mod:`edgecloud.recording.detection`; their on-disk format is documented in
``docs/recording_format.md``.
"""
