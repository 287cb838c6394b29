"""Who sees which referral (design.md §2): the referring organisation, providers that have
(had) an offer, and the desk of the region. Nobody else — not admins, not analysts."""

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Role, User
from referrals.models import OPEN_STATES, Offer, OfferState, Referral, ReferralEvent, State


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    referrals = Referral.objects.exclude(state=State.DRAFT).select_related(
        "patient", "patient__insurer", "product", "organisation", "referred_by", "region"
    )
    if user.organisation_id is None:
        return referrals.none()
    if user.role in (Role.GP, Role.TRANSFER_NURSE):
        return referrals.filter(organisation_id=user.organisation_id)
    if user.role == Role.PROVIDER_STAFF:
        offered = Offer.objects.filter(referral=OuterRef("pk"), location__organisation_id=user.organisation_id)
        return referrals.filter(Exists(offered))
    if user.role == Role.COORDINATOR:
        return referrals.filter(region_id=user.organisation.region_id)
    return referrals.none()


def referral_for_user(user: User, pk: int) -> Referral:
    """The referral with its offers and timeline, or 404 when the user may not see it."""
    return get_object_or_404(
        referrals_visible_to(user).prefetch_related(
            "care_needs",
            Prefetch("events", queryset=ReferralEvent.objects.select_related("actor")),
            Prefetch(
                "offers",
                queryset=Offer.objects.select_related("location", "location__organisation", "product", "answered_by"),
            ),
        ),
        pk=pk,
    )


def referral_row_for_user(user: User, pk: int) -> Referral:
    """The referral alone (no related rows, offers or timeline), or 404 when the user may not
    see it: for a step that locks and re-reads it anyway."""
    return get_object_or_404(referrals_visible_to(user).select_related(None).order_by(), pk=pk)


def referral_list(user: User, *, open_only: bool, state: str | None = None) -> QuerySet[Referral]:
    referrals = referrals_visible_to(user)
    if open_only:
        referrals = referrals.filter(state__in=[*OPEN_STATES, State.ADMITTED])
    if state:
        referrals = referrals.filter(state=state)
    current_offer = Offer.objects.filter(state__in=[OfferState.OPEN, OfferState.ACCEPTED]).select_related("location")
    if user.role == Role.PROVIDER_STAFF:
        current_offer = current_offer.filter(location__organisation_id=user.organisation_id)
    return referrals.prefetch_related(Prefetch("offers", queryset=current_offer, to_attr="current_offers")).order_by(
        "-created_at"
    )


def offer_for_provider(user: User, pk: int) -> Offer:
    return get_object_or_404(
        Offer.objects.select_related("referral", "location", "capacity"),
        pk=pk,
        location__organisation_id=user.organisation_id,
    )


def escalation_list(user: User, *, open_only: bool = True):
    """Escalations of the referrals the user may see (the desk: its region), newest first."""
    from referrals.models import Escalation

    escalations = Escalation.objects.filter(referral__in=referrals_visible_to(user).values("pk")).select_related(
        "referral", "referral__patient", "referral__product", "referral__organisation"
    )
    if open_only:
        escalations = escalations.filter(resolved_at__isnull=True)
    return escalations.order_by("-created_at", "-id")
