"""Feature flags and experiment assignment on the SDK side: bucketing, conditions, OpenFeature provider, exposures.

Imported by apps: light (no scipy, no store), evaluation is local and takes microseconds.
"""
