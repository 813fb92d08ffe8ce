"""Run a measured function in a fresh process so peak memory (ru_maxrss) belongs to it alone.

`spawn`, not `fork`: a forked child of a process whose Polars thread pool is running can deadlock.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable


def _child(target: Callable[..., dict], args: tuple, queue) -> None:
    started = time.perf_counter()
    extra = target(*args) or {}
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra})


def measure(target: Callable[..., dict], *args) -> dict:
    """`target(*args)` in a spawned process; target must be a module-level function and args picklable."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def row(name: str, variant: str, rows: int, result: dict) -> dict:
    return {
        "benchmark": name,
        "variant": variant,
        "rows": rows,
        "seconds": round(result["seconds"], 3),
        "rows_per_second": round(rows / result["seconds"]) if rows else None,
        "peak_rss_mb": round(result["peak_rss_mb"]),
        **{k: v for k, v in result.items() if k not in ("seconds", "peak_rss_mb")},
    }
