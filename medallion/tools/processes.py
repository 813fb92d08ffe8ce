"""Servers started in their own process group (`start_new_session=True`): is one answering, and stopping one with
everything it started."""

from __future__ import annotations

import os
import signal
import time
import urllib.request


def stop_process_group(pgid: int, timeout: float = 5.0) -> None:
    """SIGTERM to the group, then SIGKILL if it is still there after `timeout`: dagster processes may sit on
    SIGTERM for a while (STACK.md)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.2)
        if not group_alive(pgid):
            return


def group_alive(pgid: int) -> bool:
    try:  # reap the group's exited processes if they are ours (a test's), or they count as alive
        while os.waitpid(-pgid, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def answers(url: str) -> bool:
    """The HTTP server at `url` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
