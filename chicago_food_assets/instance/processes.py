"""Local processes by pid: whether one still runs, and when it started (so a reused pid is not taken for it)."""

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """The process runs (a zombie, dead but not yet reaped by its parent, does not)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # Linux
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def started_at(pid: int) -> float | None:
    """When the process started (seconds since the epoch), or None when that cannot be read (not Linux, gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start time in clock ticks
    except (OSError, IndexError, ValueError, StopIteration):
        return None
