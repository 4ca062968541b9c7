"""Statistics shared by gates, experiments and drift: pure functions over arrays (numpy/scipy).

Each function is checked against scipy/statsmodels (or a published worked example) in tests.
Nothing here reads the store; callers pass plain sequences.
"""

from glassbox.extras import check_installed

check_installed(("numpy", "scipy"), "stats", purpose="glassbox's statistics (experiments, drift, gates)")
