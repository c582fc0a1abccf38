"""The SLA engine: pure functions from stored samples and capacity tests to the figures a city
pays, withholds or renegotiates on. No I/O here; adapters read and write at the edges.
"""
