"""Start a Python process at the date in ``CIVICKIT_TEST_CLOCK``, its clock ticking on.

Only ``scripts/date_sweep.py`` puts this folder on ``PYTHONPATH``: then pytest, its
xdist workers and every Python program the tests start (the demo, the command
lines, gunicorn) read that date from ``datetime.now()`` and ``time.time()``, as
time-machine sets them, while sleeps and timeouts keep real seconds.
"""

import os

_when = os.environ.get("CIVICKIT_TEST_CLOCK")
if _when:
    from datetime import datetime

    import time_machine

    time_machine.travel(datetime.fromisoformat(_when), tick=True).start()
