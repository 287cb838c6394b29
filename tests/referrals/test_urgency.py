"""One order for who goes first (referrals/urgency.py): the SQL order and the Python sort key agree."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from referrals import services
from referrals.models import Referral
from referrals.urgency import most_urgent_first, urgency_order
from tests.referrals.conftest import referral_input

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(datetime(2026, 3, 3, 10, 0))
# Valid BSNs (eleven test), one patient each.
BSNS = ["111222333", "123456782", "100000009", "100000010", "100000022"]


def test_sql_and_python_line_referrals_up_the_same_way_most_urgent_and_longest_waiting_first(desk):
    plans = [
        {"urgency": "planned", "planned_date": date(2026, 3, 10)},
        {"urgency": "within_24h"},
        {"urgency": "today"},
        {"urgency": "planned", "planned_date": date(2026, 3, 5)},
        {"urgency": "today"},
    ]
    made = []
    for minutes, (bsn, plan) in enumerate(zip(BSNS, plans, strict=True)):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            referral, _ = services.referral_submit(by=desk.gp, data=referral_input(bsn=bsn, **plan))
        made.append(referral.pk)

    in_sql = list(Referral.objects.filter(pk__in=made).order_by(*most_urgent_first()).values_list("pk", flat=True))
    in_python = [r.pk for r in sorted(Referral.objects.filter(pk__in=made), key=urgency_order)]

    # today (oldest first), within 24 h, then planned by date
    assert in_sql == [made[2], made[4], made[1], made[3], made[0]]
    assert in_python == in_sql
