"""Reminders sent at most once: an SMS outbox in your database, and one scheduler.

* :mod:`~civickit.reminders.outbox`: :class:`Outbox`, the table that plans
  each reminder once and sends it at most once, however many workers run;
* :mod:`~civickit.reminders.scheduler`: :func:`make_scheduler`, the one
  APScheduler 3 process that runs the daily planning and dispatch jobs, and
  :func:`add_job`, which registers a job so restarts neither duplicate it nor
  lose a run that was due while the process was down;
* :mod:`~civickit.reminders.heartbeat`: :func:`heartbeat` and
  :func:`read_heartbeat`, so a web app can tell whether the scheduler is alive.

:func:`make_engine` (from :mod:`civickit.db`) is re-exported here too.
"""

from __future__ import annotations

from ..db import make_engine
from .heartbeat import Beat, heartbeat, read_heartbeat
from .outbox import STATUSES, DispatchReport, Outbox, OutboxRow, Reminder, ReminderDict, Sender
from .scheduler import add_job, make_scheduler

__all__ = [
    "STATUSES",
    "Beat",
    "DispatchReport",
    "Outbox",
    "OutboxRow",
    "Reminder",
    "ReminderDict",
    "Sender",
    "add_job",
    "heartbeat",
    "make_engine",
    "make_scheduler",
    "read_heartbeat",
]
