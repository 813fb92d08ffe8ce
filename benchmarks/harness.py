"""Run a measured function in a fresh process so peak memory (ru_maxrss) belongs to it alone."""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import time
from collections.abc import Callable


def _child(target: Callable[[], dict], queue) -> None:
    started = time.perf_counter()
    extra = target() or {}
    seconds = time.perf_counter() - started
    queue.put({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra})


def measure(target: Callable[[], dict]) -> dict:
    context = mp.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def row(name: str, variant: str, rows: int, result: dict) -> dict:
    return {"benchmark": name, "variant": variant, "rows": rows, "seconds": round(result["seconds"], 3),
            "rows_per_second": round(rows / result["seconds"]) if rows else None, "peak_rss_mb": round(result["peak_rss_mb"]),
            **{k: v for k, v in result.items() if k not in ("seconds", "peak_rss_mb")}}


def dump(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2, default=str)
