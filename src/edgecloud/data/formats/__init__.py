"""Readers for real dataset formats; each returns :class:`~edgecloud.data.annotations.VideoAnnotations`."""
