"""One module per kind of device. A source reads; it never sends anything."""
