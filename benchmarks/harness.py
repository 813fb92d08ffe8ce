"""Run a measured function in a fresh process so peak memory (ru_maxrss) belongs to it alone.

`spawn`, not `fork`: a forked child of a process whose Polars thread pool is running can deadlock.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import queue as queue_module
import resource
import time
import traceback
from collections.abc import Callable


def _child(target: Callable[..., dict], args: tuple, preload: tuple[str, ...], queue) -> None:
    try:
        for module in preload:  # imported before the clock starts: a variant is not charged for its imports
            importlib.import_module(module)
        cpu_before = _cpu_seconds(resource.RUSAGE_SELF)
        started = time.perf_counter()
        extra = target(*args) or {}
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu_before
        own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # A target may report its own seconds / cpu_s / peak_rss_mb (e.g. of a subprocess it ran): those win.
        queue.put({"seconds": seconds, "cpu_s": round(cpu, 2), "peak_rss_mb": own_rss, **extra})
    except BaseException:
        queue.put({"error": traceback.format_exc(limit=8)})


def _cpu_seconds(who: int) -> float:
    """User + system CPU seconds (all threads): unlike wall time, barely moved by other load on the machine."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(target: Callable[..., dict], *args, preload: tuple[str, ...] = ()) -> dict:
    """`target(*args)` in a spawned process; target must be a module-level function and args picklable.

    A target that raises, or a process that dies (e.g. killed for memory), gives {"error": ...} instead of a
    hang, so one failing variant does not lose the rest of the run."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, preload, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not process.is_alive():
                result = {"error": f"process exited with code {process.exitcode} before reporting"}
                break
    process.join()
    return result


def row(section: str, name: str, variant: str, rows: int, result: dict) -> dict:
    """One measured figure; `error` is set (and the numbers are None) when the variant failed."""
    seconds = result.get("seconds")
    peak = result.get("peak_rss_mb")
    return {
        "section": section,
        "benchmark": name,
        "variant": variant,
        "rows": rows,
        "seconds": round(seconds, 3) if seconds is not None else None,
        "rows_per_second": round(rows / seconds) if rows and seconds else None,
        "peak_rss_mb": round(peak) if peak is not None else None,
        **{k: v for k, v in result.items() if k not in ("seconds", "peak_rss_mb")},
    }
