"""The edge: read a device, spool every sample on disk, publish until the broker acknowledges."""

__version__ = "0.1.0"
