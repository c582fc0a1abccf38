"""`pantau demo`: the whole system on this machine, then the Cilegon month and its report."""

from pantau.collector.lab.demo.run import add_arguments, run

__all__ = ["add_arguments", "run"]
