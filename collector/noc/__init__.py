"""The NOC's view: live status, alerts, the collector's own metrics."""
