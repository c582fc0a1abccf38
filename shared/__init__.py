"""Code both sides need: the wire contract, configuration loading, the registry. No network I/O."""
