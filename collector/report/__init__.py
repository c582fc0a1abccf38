"""The monthly SLA report: read rollups and capacity tests, compute, render."""
