"""Top costs in a py-spy profile (``py-spy record --format raw``: collapsed stacks).

    python bench/profile_top.py PROFILE.txt [--top 25]

Prints, per function (file and name, lines merged), its share of all samples: inclusive
(on the stack) and self (innermost frame). Idle samples (the event loop waiting in
select/epoll, threads parked in a lock) are counted apart, so shares are of busy samples.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_IDLE = ("EpollSelector.select", "Condition.wait", "Event.wait", "_worker", "select", "poll", "epoll")
# Frames under every sample of a thread (the loop, the thread start-up): no information.
_ROOTS = ("asyncio/", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py", "arena_app.py",
          "app_factory.py", "threading.py", "<frozen runpy>", "concurrent/futures/thread.py", "anyio/_backends")


def frame_name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    short = "/".join(path.split("site-packages/")[-1].split("/")[-2:]) if "/" in path else path
    return f"{m['fn']} ({short})"


def top_costs(path: Path, top: int = 25) -> list[str]:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    busy = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")[1:]]  # the first is the thread
        if not frames:
            continue
        if frames[-1].split(" (")[0] in _IDLE:
            idle += n
            continue
        busy += n
        own[frames[-1]] += n
        for name in set(frames):
            if not any(root in name for root in _ROOTS):
                inclusive[name] += n
    lines = [f"{busy} busy samples ({idle} idle left out)",
             f"{'inclusive':>9} {'self':>6}  function"]
    for name, n in inclusive.most_common(top):
        lines.append(f"{100 * n / busy:8.1f}% {100 * own[name] / busy:5.1f}%  {name}")
    lines.append("top self time:")
    for name, n in own.most_common(12):
        lines.append(f"{100 * n / busy:8.1f}%  {name}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print("\n".join(top_costs(args.profile, args.top)))


if __name__ == "__main__":
    main()
