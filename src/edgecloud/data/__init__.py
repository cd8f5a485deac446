"""Datasets: on-disk formats, synthetic worlds written in those formats, and datamodules."""
