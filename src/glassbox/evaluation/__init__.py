"""Datasets, regression runs, evaluators, golden traces, release gates and canary analysis."""
