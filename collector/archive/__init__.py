"""The evidence archive: raw messages byte for byte in daily segments, a Merkle tree per day,
and signed checkpoints chained from day to day."""
