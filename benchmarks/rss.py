"""Peak resident memory of this process image, for the benchmarks' child processes.

``getrusage(RUSAGE_SELF).ru_maxrss`` is not enough on Linux: it keeps the largest RSS
of the process across ``execve``, so a child started by a parent that used 360 MB
reports at least 360 MB whatever it does itself. ``VmHWM`` in ``/proc/self/status`` is
the peak of the current image only; ``ru_maxrss`` is the fallback elsewhere.
"""
from __future__ import annotations

import resource


def peak_rss_kb() -> int:
    """The peak resident set size of this process image, in KiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
