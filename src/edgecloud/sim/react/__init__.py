"""REACT (IoTDI 2023) as a simulator scenario: edge detector every k frames, asynchronous cloud
detector every m frames, trackers in between, fast-tracked cloud results fused by Algorithm 1."""
