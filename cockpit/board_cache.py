"""The rendered columns of the regional board, shared by the coordinators of a region.

Every coordinator's board polls every few seconds and the columns are the same for all of them,
so they are rendered once and cached. The key holds a fingerprint of everything the columns show,
so a workflow step, an escalation or a bed count shows on the very next request:

- the open referrals of the region (how many, which, when their state last changed: every
  workflow step, offer and answer changes a referral's state),
- the open escalations of the region,
- the newest bed proposal of the region (a bed that came free for a searching referral),
- the region's bed counts (`region_counts_version`), which decide the suggested location,
- the poll interval the time falls in, because the SLA texts and waiting times move with the
  clock; edits outside the workflow (the admin) show within that interval too,
- the locations without a planner (flagged "no planner — phone" on the cards): the page reads
  them on every request for its "Cannot be reached" panel, which is not cached, and hands them in.

The CSRF token of each card's forms is personal: see elvdesk.fragments.
"""

import hashlib
import time
from dataclasses import dataclass

from django.db import connection
from django.utils.translation import get_language

from beds.selectors import region_counts_sql
from cockpit.board import regional_board
from elvdesk.fragments import shared_fragment
from providers.models import Region
from referrals.models import OPEN_STATES, BedProposal, Escalation, Referral

COLUMNS_TEMPLATE = "cockpit/board.html#columns"


@dataclass(frozen=True)
class BoardColumns:
    html: str  # the columns (safe HTML), with this request's CSRF token
    total: int  # open referrals that match the filters
    subjects: list[tuple[int, int]]  # (referral_id, patient_id) of every card, for the access log


def board_version(*, region: Region) -> str:
    """One statement (it runs on every board request): the region's open referrals, its open
    escalations and its bed counts."""
    referral, escalation, proposal = (model._meta.db_table for model in (Referral, Escalation, BedProposal))
    states = ", ".join(["%s"] * len(OPEN_STATES))
    counts_sql, counts_params = region_counts_sql(region=region)
    sql = (
        "SELECT r.*, e.*, p.*, c.* FROM"  # nosec B608: table names come from the models
        f" (SELECT count(id) AS n, sum(id) AS ids, max(state_changed_at) AS changed FROM {referral}"
        f"  WHERE region_id = %s AND state IN ({states})) r,"
        f" (SELECT count(x.id) AS n, sum(x.id) AS ids FROM {escalation} x JOIN {referral} y ON y.id = x.referral_id"
        "  WHERE y.region_id = %s AND x.resolved_at IS NULL) e,"
        f" (SELECT max(p.id) AS newest FROM {proposal} p JOIN {referral} z ON z.id = p.referral_id"
        "  WHERE z.region_id = %s) p,"
        f" ({counts_sql}) c"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [region.pk, *OPEN_STATES, region.pk, region.pk, *counts_params])
        return "|".join(map(str, cursor.fetchone()))


def _cache_key(*, user, filters: dict, poll_seconds: int, unreachable_ids: frozenset[int]) -> str:
    region = user.organisation.region
    question = [
        user.role,
        user.organisation_id,
        get_language(),
        sorted((name, str(getattr(value, "pk", value))) for name, value in filters.items()),
        int(time.time() // poll_seconds),
        board_version(region=region),
        sorted(unreachable_ids),
    ]
    digest = hashlib.sha256(repr(question).encode()).hexdigest()[:32]
    return f"cockpit:board:{region.pk}:{digest}"


def board_columns(
    request, *, filters: dict, context: dict, poll_seconds: int, unreachable_ids: frozenset[int]
) -> BoardColumns:
    """The board's columns for the user of `request` and the cleaned `filters`; `context` is what
    the columns template needs besides the board (the page's address); `unreachable_ids` are the
    region's locations without a planner (providers.reachability.unreachable_location_ids)."""

    def render_context():
        board = regional_board(user=request.user, unreachable_ids=unreachable_ids, **filters)
        subjects = [(card.pk, card.patient_id) for card in board.referrals]
        return {**context, "board": board}, {"total": board.total, "subjects": subjects}

    fragment = shared_fragment(
        request,
        key=_cache_key(user=request.user, filters=filters, poll_seconds=poll_seconds, unreachable_ids=unreachable_ids),
        timeout=poll_seconds * 2,
        template=COLUMNS_TEMPLATE,
        context=render_context,
    )
    return BoardColumns(html=fragment.html, total=fragment.facts["total"], subjects=fragment.facts["subjects"])
