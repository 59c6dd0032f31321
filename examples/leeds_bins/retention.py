"""How long leeds_bins keeps phone numbers, and the daily job that forgets them.

Personal data is kept no longer than it is needed (UK GDPR's storage
limitation principle, as the ICO's guidance explains it):

- an active subscription keeps its number while the texts are wanted;
- a stopped one keeps it for ``STOPPED_GRACE`` so that a START reply can
  resume it, then the subscription and its codes are deleted;
- a sign-up never confirmed is deleted ``UNCONFIRMED_TTL`` after it began;
- each text in the outbox (number and message) is kept ``OUTBOX_KEPT`` after
  it was sent or failed, to answer "did my reminder go?", then deleted.

A subscription with a code sent in the last ``UNCONFIRMED_TTL`` is left alone:
someone is signing up again right now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from . import models
from .state import get_engine, get_outbox

STOPPED_GRACE = timedelta(days=30)
UNCONFIRMED_TTL = timedelta(days=1)
OUTBOX_KEPT = timedelta(days=30)


def forget_old_numbers(app: Flask, now: datetime) -> dict[str, int]:
    """Delete what the rules above say has been kept long enough; return the counts."""
    s, v = models.subscriptions, models.verification_codes
    signing_up = sa.exists().where(
        v.c.subscription_id == s.c.id, v.c.created_at >= now - UNCONFIRMED_TTL
    )
    done_with = sa.or_(
        sa.and_(s.c.status == "stopped", s.c.stopped_at < now - STOPPED_GRACE),
        sa.and_(s.c.status == "pending", s.c.created_at < now - UNCONFIRMED_TTL),
    )
    with get_engine(app).begin() as conn:
        ids = list(conn.execute(sa.select(s.c.id).where(done_with, ~signing_up)).scalars())
        if ids:
            conn.execute(sa.delete(v).where(v.c.subscription_id.in_(ids)))
            conn.execute(sa.delete(s).where(s.c.id.in_(ids)))
    texts = get_outbox(app).purge(older_than=now - OUTBOX_KEPT)
    return {"subscriptions": len(ids), "texts": texts}
