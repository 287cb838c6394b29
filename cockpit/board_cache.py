"""The rendered columns of the regional board, shared by the coordinators of a region.

Every coordinator's board polls every few seconds and the columns are the same for all of them,
so they are one cached part (elvdesk/page_cache.py): a workflow step, an offer and its answer, an
escalation, a bed proposal or a bed count changes the region's generation, so it shows on the
very next request. So does a change to a planner's account (audit.changes), which decides the
cards' "no planner — phone" flags.
"""

from dataclasses import dataclass

from cockpit.board import regional_board
from elvdesk.page_cache import cached_part
from providers.reachability import unreachable_location_ids

COLUMNS_TEMPLATE = "cockpit/board.html#columns"


@dataclass(frozen=True)
class BoardColumns:
    html: str  # the columns (safe HTML), with this request's CSRF token
    total: int  # open referrals that match the filters
    subjects: list[tuple[int, int]]  # (referral_id, patient_id) of every card, for the access log


def board_columns(request, *, filters: dict, context: dict) -> BoardColumns:
    """The board's columns for the user of `request` and the cleaned `filters`; `context` is what
    the columns template needs besides the board (the page's address)."""
    user = request.user

    def render_context():
        unreachable_ids = unreachable_location_ids(region_id=user.organisation.region_id)
        board = regional_board(user=user, unreachable_ids=unreachable_ids, **filters)
        subjects = [(card.pk, card.patient_id) for card in board.referrals]
        return {**context, "board": board}, {"total": board.total, "subjects": subjects}

    part = cached_part(
        request,
        name="board-columns",
        region_id=user.organisation.region_id,
        question=[
            user.role,
            user.organisation_id,
            context,
            sorted((name, str(getattr(value, "pk", value))) for name, value in filters.items()),
        ],
        template=COLUMNS_TEMPLATE,
        context=render_context,
    )
    return BoardColumns(html=part.html, total=part.facts["total"], subjects=part.facts["subjects"])
