"""An acknowledged rating survives SIGKILL of the writing process."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from ift_chat.config import Config
from ift_chat.store import Store

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from ift_chat.config import Config
    from ift_chat.store import Store

    store = Store(Config(home=Path(sys.argv[1])))
    store.checkpoints.register("ckpt")
    conv = store.conversations.create("chat", sides={"single": "ckpt"})
    rater = store.raters.create("crash-tester")
    n = 0
    while True:
        n += 1
        turn = store.conversations.add_turn(conv.id, f"turn {n}")
        rid = store.conversations.start_response(turn.id, "single", "ckpt")
        store.feedback.rate(rid, rater.id, ("yes", "partial", "no")[n % 3], score=1 + n % 5)
        print(rid, flush=True)  # acknowledged only after the commit returned
""")


def test_ratings_reported_committed_survive_sigkill(tmp_path):
    home = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], stdout=subprocess.PIPE,
                            text=True, cwd=os.getcwd())
    acknowledged = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(acknowledged) >= 50, "the writer did not get going"
    store = Store(Config(home=home))
    stored = {r["response_id"] for r in store.query("select response_id from ratings")}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged ratings lost"
    assert store.query("pragma integrity_check")[0]["integrity_check"] == "ok"
