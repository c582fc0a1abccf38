"""MikroTik RouterOS, read through the RouterOS API with librouteros."""
