"""Seeded synthetic worlds written in the real datasets' on-disk formats."""
