"""Code both sides need: the wire contract, configuration loading, the registry. No network I/O."""

__version__ = "0.1.0"
