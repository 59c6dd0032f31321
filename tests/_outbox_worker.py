"""A dispatch worker run as a real process by tests/test_reminders.py.

    python tests/_outbox_worker.py URL TABLE OUT --now ISO [--batch N] [--go FILE]
                                   [--block-at N --ready FILE [--block-for S]]

Every message handed to its sender is appended to OUT (one recipient a line,
flushed at once), so the test can count sends across processes. With ``--go``
it first creates ``OUT.up`` and waits for FILE, so several workers start
together. With ``--block-at N`` the Nth send writes its recipient to the
``--ready`` file and hangs (for ``--block-for`` seconds, default 600), for
the test to SIGKILL or SIGTERM the process mid-send. SIGTERM is handled as a
real worker should: the send in hand finishes, the rest go back to pending.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from civickit.reminders import Outbox, make_engine
from civickit.stopping import StopSignals


class FileSender:
    def __init__(
        self, out: Path, block_at: int | None, ready: Path | None, block_for: float
    ) -> None:
        self.log = out.open("a", buffering=1)
        self.block_at = block_at
        self.ready = ready
        self.block_for = block_for
        self.calls = 0

    def send(self, to: str, body: str) -> SimpleNamespace:
        self.calls += 1
        if self.calls == self.block_at:
            self.ready.write_text(to)
            time.sleep(self.block_for)  # the test signals us here, mid-send
        self.log.write(to + "\n")
        return SimpleNamespace(sid=f"SM-{to}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("table")
    parser.add_argument("out", type=Path)
    parser.add_argument("--now", required=True)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--block-at", type=int)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--block-for", type=float, default=600)
    args = parser.parse_args()

    outbox = Outbox(make_engine(args.url), table_name=args.table)
    sender = FileSender(args.out, args.block_at, args.ready, args.block_for)
    now = datetime.fromisoformat(args.now)
    if args.go:
        Path(f"{args.out}.up").touch()
        while not args.go.exists():
            time.sleep(0.01)
    total = {"batches": 0, "claimed": 0, "sent": 0, "released": 0}
    with StopSignals() as stop:
        while not stop.requested:
            report = outbox.dispatch(
                sender,
                now=now,
                batch=args.batch,
                worker_id=args.out.name,
                should_stop=lambda: stop.requested,
            )
            if not report.claimed:
                break
            total["batches"] += 1
            total["claimed"] += report.claimed
            total["sent"] += report.sent
            total["released"] += report.released
    print(json.dumps(total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
