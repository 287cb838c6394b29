"""The "Klikmoment" page: per day, the planned discharges of the coming days with their
reservation state, for the desk's daily meeting with the hospitals (referrals/reservations.py)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import role_required
from accounts.models import Role
from audit.trail import audited
from referrals.reservations import ReservationState, klikmoment_days
from referrals.selectors import referrals_visible_to


@login_required
@audited("read", referral_kwarg=None)
@role_required(Role.COORDINATOR, Role.TRANSFER_NURSE)
@require_GET
def klikmoment(request):
    # The desk sees its region; a transfer nurse the discharges of her own hospital (visibility).
    referrals = referrals_visible_to(request.user).filter(region_id=request.user.organisation.region_id)
    days = klikmoment_days(referrals=referrals, now=timezone.now())
    request.audit.add(*(referral for day in days for referral in day.referrals))
    return render(request, "referrals/klikmoment.html", {"days": days, "states": ReservationState})
