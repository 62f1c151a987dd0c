"""`python -m vetorial_assets.platform.reaper HOME`: stops the embedded server once no user is alive.

Started (detached) by the process that starts the server. Users normally stop it
themselves when the last one leaves; this covers a last user killed with SIGKILL, which
never leaves. It exits when the server stops, or is not ours to stop.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from .embedded import reap

POLL_SECONDS = 1.0


def main(argv: list[str]) -> int:
    home = Path(argv[0])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for a command is not for us
    try:
        while (home / "pg").exists() and reap(home):
            time.sleep(POLL_SECONDS)
    except OSError:
        pass  # the home went away: nothing left to watch
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
