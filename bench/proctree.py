"""Wall time and peak memory of a command's whole process tree (driver JVM, Python workers).

Polled from /proc while the command runs; for the benchmarks only (Linux).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """Resident bytes of process `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            pages = int(Path(f"/proc/{entry}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        rss[int(entry)] = pages * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def run_measured(
    cmd: list[str], *, cwd: Path, stdout: IO[Any] | int, interval: float = 0.3
) -> tuple[float, int, int, str, str]:
    """Run `cmd` to the end: wall seconds, peak tree RSS bytes, exit code, stdout and stderr
    (the last two only when piped)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE if stdout == subprocess.PIPE else subprocess.STDOUT,
        text=True,
    )
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(interval)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    return time.perf_counter() - start, peak[0], proc.returncode, out or "", err or ""


def run_logged(cmd: list[str], *, cwd: Path, log: Path) -> tuple[float, int]:
    """Run `cmd` with its output to `log`: wall seconds and peak tree RSS bytes; raises if it fails."""
    with log.open("w") as out:
        seconds, peak, code, _, _ = run_measured(cmd, cwd=cwd, stdout=out, interval=0.5)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({code}); see {log}")
    return seconds, peak
