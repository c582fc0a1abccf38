"""The edge: read a device, spool every sample on disk, publish until the broker acknowledges."""

from pantau.shared import __version__

__all__ = ["__version__"]
