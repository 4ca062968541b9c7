"""Monitoring: Prometheus metrics (later SLOs, drift, alerts)."""
