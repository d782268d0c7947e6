"""Resource use of a host task's process tree, sampled from ``/proc`` (see :mod:`healthomics_emulator.wdl_host`)."""

from __future__ import annotations

import os
import time

try:  # psutil comes with miniwdl; keep the backend usable without it
    import psutil
except ImportError:  # pragma: no cover - exercised only on unusual installs
    psutil = None  # type: ignore[assignment]


def _tree_pids(pid: int) -> list[int]:
    pids = [pid]
    if psutil is not None:
        try:
            pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            pass
    return pids


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_sample(pid: int) -> tuple[int, int, float]:
    """(``VmHWM`` bytes, ``VmRSS`` bytes, cpu seconds of the process and the children it reaped)
    of one process from ``/proc``; zeros when it is gone."""
    hwm = rss = 0
    cpu = 0.0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
        # fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17)
        fields = text[text.rindex(")") + 2 :].split()
        cpu = sum(int(x) for x in fields[11:15]) / _CLK_TCK
    except (OSError, ValueError, IndexError):
        pass
    return hwm, rss, cpu


#: The shortest window over which ``cpu_maximum`` measures a rate (seconds).
CPU_WINDOW_SECONDS = 1.0


class _Usage:
    """Samples of a task's process tree: peak and mean resident set, fastest cpu-time rate."""

    def __init__(self) -> None:
        self.samples = 0
        self.peak_hwm = 0
        self._first: float | None = None
        self._last: tuple[float, int] | None = None  # (time, rss)
        self._rss_area = 0.0
        self._window: tuple[float, float] | None = None  # (time, cpu seconds)
        self._end: float | None = None
        self.cpu_maximum: float | None = None

    def sample(self, pid: int) -> None:
        now = time.monotonic()
        hwm = rss = 0
        cpu = 0.0
        for p in _tree_pids(pid):
            h, r, c = _proc_sample(p)
            hwm, rss, cpu = hwm + h, rss + r, cpu + c
        self.samples += 1
        self.peak_hwm = max(self.peak_hwm, hwm)
        if self._last is None:
            self._first = now
        else:
            self._rss_area += self._last[1] * (now - self._last[0])
        self._last = (now, rss)
        self._cpu_point(now, cpu)

    def _cpu_point(self, now: float, cpu: float) -> None:
        if self._window is None:
            self._window = (now, cpu)
            return
        start, cpu0 = self._window
        if cpu < cpu0:  # a process left the tree without being reaped inside it: restart
            self._window = (now, cpu)
        elif now - start >= CPU_WINDOW_SECONDS:
            rate = (cpu - cpu0) / (now - start)
            self.cpu_maximum = rate if self.cpu_maximum is None else max(self.cpu_maximum, rate)
            self._window = (now, cpu)

    def finish(self, end: float, cpu_total: float) -> None:
        """Close the last window with the shell's final ``wait4`` cpu time at ``end``."""
        if self._last is not None:
            self._rss_area += self._last[1] * (end - self._last[0])
        self._cpu_point(end, cpu_total)
        self._end = end

    def rss_average(self) -> int | None:
        if self._last is None or self._first is None:
            return None
        span = (self._end if self._end is not None else self._last[0]) - self._first
        return int(self._rss_area / span) if span > 0 else self._last[1]
