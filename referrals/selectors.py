"""Who sees which referral (docs/architecture.md §2.5): the referring organisation, providers that have
(had) an offer, the desk of the region, and the desk of a neighbouring region where it had an offer
(cross_region.py). Nobody else — not admins, not analysts."""

from django.db.models import BooleanField, Exists, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404

from accounts.models import Role, User
from elvdesk.input_limits import BIG_ID
from providers.models import Location, Product
from referrals.models import (
    OPEN_STATES,
    Escalation,
    Offer,
    OfferState,
    Referral,
    ReferralEvent,
    State,
    Stay,
    StayProductChange,
)


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
        # Its region's referrals, and another region's with an offer (ever) at one of its
        # locations: a cross-region placement (cross_region.py), which this desk may stop.
        region_id = user.organisation.region_id
        hosted = Offer.objects.filter(referral=OuterRef("pk"), location__organisation__region_id=region_id)
        return referrals.filter(Q(region_id=region_id) | Exists(hosted))
    return referrals.none()


def preferred_location_for(*, region, location_id, product: Product | None) -> Location | None:
    """The location a referrer chose on the bed overview, when it may be preferred: an active
    location of the referrer's region that offers the product. Anything else (unknown, another
    region's, inactive, not offering the product) is None: ignored, never an error, since the
    link or draft it came from may be older than the data or edited by hand."""
    location_id = str(location_id or "").strip()
    if product is None or not (location_id.isascii() and location_id.isdigit()) or int(location_id) > BIG_ID:
        return None
    return (
        Location.objects.filter(
            pk=int(location_id), organisation__region=region, is_active=True, capacities__product=product
        )
        .select_related("organisation")
        .first()
    )


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


def _any_of_the_referral(model) -> RawSQL:
    """Whether the referral has rows of `model`, as plain SQL: built by the ORM (Exists over a
    queryset) it cost nearly as much as the query it saves."""
    table, column, outer = model._meta.db_table, model._meta.get_field("referral").column, Referral._meta.db_table
    sql = f"EXISTS (SELECT 1 FROM {table} WHERE {column} = {outer}.id)"  # nosec B608: names from the models
    return RawSQL(sql, [], output_field=BooleanField())  # nosec B611: no parameters, names from the models


def referral_page_for_user(user: User, pk: int) -> Referral:
    """The referral with what its page shows, or 404 when the user may not see it: its care
    needs and timeline, and in `page_offers` and `page_escalations` its offers and escalations.

    Cheaper than referral_for_user, for the page every user opens most:
    - two joins fewer: PostgreSQL spent longer planning the seven-table join (1.7 ms) than
      running all of the page's queries. The page shows no offer's product or answerer, and the
      referrer is nearly always on the timeline already (who submitted); otherwise it is read
      when shown;
    - offers and escalations are read only when there are any (most open referrals have none
      yet): two EXISTS in the first query cost less than the two queries."""
    referral = get_object_or_404(
        referrals_visible_to(user)
        .select_related(None)
        .select_related("patient", "patient__insurer", "product", "organisation", "region")
        .annotate(has_offers=_any_of_the_referral(Offer), has_escalations=_any_of_the_referral(Escalation))
        .prefetch_related("care_needs", Prefetch("events", queryset=ReferralEvent.objects.select_related("actor"))),
        pk=pk,
    )
    lookups = []
    if referral.has_offers:
        offers = Offer.objects.select_related("location", "location__organisation")
        lookups.append(Prefetch("offers", queryset=offers, to_attr="page_offers"))
    else:
        referral.page_offers = []
    if referral.has_escalations:
        lookups.append(Prefetch("escalations", to_attr="page_escalations"))
    else:
        referral.page_escalations = []
    prefetch_related_objects([referral], *lookups)
    actors = {event.actor_id: event.actor for event in referral.events.all() if event.actor_id is not None}
    if referral.referred_by_id in actors:
        referral.referred_by = actors[referral.referred_by_id]
    return referral


def stay_for_page(referral: Referral) -> Stay | None:
    """The referral's stay as its page shows it (None before admission): the location with its
    provider, the product the patient has now, and the product changes oldest first."""
    if referral.state not in (State.ADMITTED, State.DISCHARGED):
        return None
    changes = StayProductChange.objects.select_related("from_capacity__product", "to_capacity__product", "changed_by")
    return (
        Stay.objects.select_related("location__organisation", "capacity__product")
        .prefetch_related(Prefetch("product_changes", queryset=changes))
        .filter(referral=referral)
        .first()
    )


def stay_product_options(stay: Stay) -> QuerySet[Product]:
    """The other products the stay's location has a bed count for: what op- or afschaling can
    change the stay to."""
    return (
        Product.objects.filter(capacities__location_id=stay.location_id)
        .exclude(pk=stay.capacity.product_id)
        .order_by("sort_order", "code")
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


def offer_for_host_desk(user: User, pk: int) -> Offer:
    """An offer at a location of the coordinator's region (404 otherwise): the offers it may stop."""
    return get_object_or_404(
        Offer.objects.select_related("referral", "location", "capacity"),
        pk=pk,
        location__organisation__region_id=user.organisation.region_id,
    )


def offer_for_provider(user: User, pk: int) -> Offer:
    return get_object_or_404(
        Offer.objects.select_related("referral", "location", "capacity"),
        pk=pk,
        location__organisation_id=user.organisation_id,
    )


def escalation_list(user: User, *, open_only: bool = True):
    """Escalations of the referrals the user may see (the desk: its region), newest first."""
    escalations = Escalation.objects.filter(referral__in=referrals_visible_to(user).values("pk")).select_related(
        "referral", "referral__patient", "referral__product", "referral__organisation"
    )
    if user.role == Role.COORDINATOR:
        # A neighbour's referral with a bed here is that desk's to escalate, not this one's.
        escalations = escalations.filter(referral__region_id=user.organisation.region_id)
    if open_only:
        escalations = escalations.filter(resolved_at__isnull=True)
    return escalations.order_by("-created_at", "-id")
