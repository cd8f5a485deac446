"""edgecloud: train, record and replay edge-cloud video analytics systems."""

__version__ = "0.1.0"
