# SPDX-License-Identifier: MIT
"""Distributions as the benchmark reports them: median, p99, max."""


def percentile(values, p):
    """Nearest rank, so that every figure is an observed value."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[rank - 1]


def summary(values):
    values = [v for v in values if v is not None]
    return {"n": len(values), "median": percentile(values, 50),
            "p99": percentile(values, 99), "max": max(values) if values else None}


def ratio(a, b):
    return a / b if a is not None and b else None
