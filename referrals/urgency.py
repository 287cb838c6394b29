"""Who goes first: the most urgent referral (today, within 24 hours, then planned by date), and
among equals the one waiting longest. One order for the board, the freed-bed proposals and
whoever else lines referrals up — in SQL (`MOST_URGENT_FIRST`) and in Python (`urgency_order`)."""

from datetime import date

from django.db.models import Case, F, IntegerField, Value, When

from referrals.models import Referral, Urgency

URGENCY_RANK = {Urgency.TODAY: 0, Urgency.WITHIN_24H: 1, Urgency.PLANNED: 2}


def urgency_rank():
    """URGENCY_RANK as an SQL expression on a referral queryset."""
    return Case(
        *(When(urgency=urgency, then=Value(rank)) for urgency, rank in URGENCY_RANK.items()),
        default=Value(len(URGENCY_RANK)),
        output_field=IntegerField(),
    )


def most_urgent_first() -> list:
    """The order_by() of referrals, most urgent and longest waiting first (no planned date first,
    on every database)."""
    return [urgency_rank().asc(), F("planned_date").asc(nulls_first=True), F("created_at").asc(), F("id").asc()]


def urgency_order(referral: Referral) -> tuple:
    """The same order as a sort key for referrals already read."""
    return (
        URGENCY_RANK.get(referral.urgency, len(URGENCY_RANK)),
        referral.planned_date or date.min,
        referral.created_at,
        referral.pk,
    )
