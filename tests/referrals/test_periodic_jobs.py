from datetime import timedelta
from io import StringIO

import time_machine
from django.core.management import call_command

from referrals.models import Offer


def test_run_periodic_jobs_expires_due_offers_in_process(desk, offer):
    out = StringIO()
    with time_machine.travel(offer.expires_at + timedelta(minutes=1)):
        call_command("run_periodic_jobs", stdout=out)
    assert "expire-offers: 1" in out.getvalue()
    assert Offer.objects.get(pk=offer.pk).state == "expired"
