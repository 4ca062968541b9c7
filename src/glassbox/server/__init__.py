"""``glassbox serve``: REST API, OTLP/HTTP receiver, Prometheus metrics and health, over one store.

A thin face over ``analysis`` and ``store`` (see DESIGN.md); imported only by the CLI and tests.
"""
