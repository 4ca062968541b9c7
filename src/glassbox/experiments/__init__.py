"""Experiment analysis over traces: metrics per variant, tests, SRM, corrections, power, reports."""
