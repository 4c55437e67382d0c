# SPDX-License-Identifier: MIT
"""What the target and its clients saw around one operation (an apply,
a gdb patch): the server's own gap reports and the load generator's
request latencies, cut into the operation's window and the second
before it."""

REPORT_NS = 10_000_000  # the server's report period
SECOND = 1_000_000_000


def gap_maxima(gaps, start, end):
    """Largest own and global gap reported for [start, end]: a report line
    covers the REPORT_NS before it."""
    lines = [g for g in gaps if start < g[0] <= end + REPORT_NS]
    if not lines:
        return None, None
    return max(g[1] for g in lines) / 1e6, max(g[2] for g in lines) / 1e6


def latencies_ms(samples, start, end):
    """Latencies of the requests that completed in [start, end)."""
    return [lat / 1e6 for sent, lat in samples if start <= sent + lat < end]


def around(operation_start, operation_end, quiet_since, gaps, samples):
    """The figures of one operation: inside gaps during it and in a control
    window as long as it just before it; request latencies during the
    second(s) of the operation (at least one second) and in the second
    before.  Control windows start no earlier than quiet_since, the end of
    the previous operation."""
    length = operation_end - operation_start
    during_end = max(operation_end, operation_start + SECOND)
    own, global_gap = gap_maxima(gaps, operation_start, operation_end)
    control_start = max(operation_start - length, quiet_since)
    own_before, global_before = gap_maxima(gaps, control_start, operation_start)
    return {
        "own_gap_ms": own, "global_gap_ms": global_gap,
        "own_gap_before_ms": own_before, "global_gap_before_ms": global_before,
        "control_ms": (operation_start - control_start) / 1e6,
        "latency_during_ms": latencies_ms(samples, operation_start, during_end),
        "latency_before_ms": latencies_ms(samples, max(operation_start - SECOND, quiet_since),
                                          operation_start),
    }
