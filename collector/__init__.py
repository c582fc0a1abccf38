"""The centre: take what agents publish, validate, enrich, store durably, compute the SLA."""
