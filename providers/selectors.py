"""Reads of provider organisations and locations. Query counts do not grow with the number of
organisations or locations."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Replace

from beds.models import Capacity
from providers.models import Feature, Insurer, Location, Organisation, OrganisationKind, Product, Region


@dataclass(frozen=True)
class SocialMapFilters:
    """What the social map is asked for; every term of `terms` must match the location."""

    terms: tuple[str, ...] = ()
    product: Product | None = None
    feature: Feature | None = None
    insurer: Insurer | None = None
    specialist_24_7: bool = False

    @property
    def any(self) -> bool:
        return bool(self.terms or self.product or self.feature or self.insurer or self.specialist_24_7)


def _term_matches(term: str) -> Q:
    """A location matches a term (a word, no spaces) by its own or its organisation's name, its
    city, its postcode (written with or without the space), or the name of one of its features or
    contracted insurers."""
    features = Location.features.through.objects.filter(location_id=OuterRef("pk"), feature__name__icontains=term)
    insurers = Location.contracted_insurers.through.objects.filter(
        location_id=OuterRef("pk"), insurer__name__icontains=term
    )
    return (
        Q(name__icontains=term)
        | Q(organisation__name__icontains=term)
        | Q(city__icontains=term)
        | Q(postcode_compact__icontains=term)
        | Exists(features)
        | Exists(insurers)
    )


def social_map_locations(*, filters: SocialMapFilters) -> QuerySet:
    """Active locations matching the filters (any organisation: the caller narrows it)."""
    locations = Location.objects.filter(is_active=True).annotate(
        postcode_compact=Replace("postcode", Value(" "), Value(""))
    )
    for term in filters.terms:
        locations = locations.filter(_term_matches(term))
    if filters.product is not None:
        offering = Capacity.objects.filter(location=OuterRef("pk"), product=filters.product, total__gt=0)
        locations = locations.filter(Exists(offering))
    if filters.feature is not None:
        locations = locations.filter(
            Exists(Location.features.through.objects.filter(location_id=OuterRef("pk"), feature=filters.feature))
        )
    if filters.insurer is not None:
        locations = locations.filter(
            Exists(
                Location.contracted_insurers.through.objects.filter(location_id=OuterRef("pk"), insurer=filters.insurer)
            )
        )
    if filters.specialist_24_7:
        locations = locations.filter(specialist_24_7=True)
    return locations


def social_map(*, region: Region, filters: SocialMapFilters) -> list[Organisation]:
    """The social map of a region: its active care providers by name, each with its matching
    active locations in `map_locations` (by name), and per location its features, contracted
    insurers and the products it offers (`capacities` with a contracted total above zero).

    Without filters every active provider is listed, also one without active locations; with
    filters only providers with at least one matching location. No patient data."""
    locations = social_map_locations(filters=filters)
    organisations = Organisation.objects.filter(region=region, kind=OrganisationKind.PROVIDER, is_active=True)
    if filters.any:
        organisations = organisations.filter(Exists(locations.filter(organisation=OuterRef("pk"))))
    offered = (
        Capacity.objects.filter(total__gt=0).select_related("product").order_by("product__sort_order", "product__code")
    )
    shown_locations = locations.order_by("name", "pk").prefetch_related(
        Prefetch("capacities", queryset=offered), "features", "contracted_insurers"
    )
    return list(
        organisations.order_by("name", "pk").prefetch_related(
            Prefetch("locations", queryset=shown_locations, to_attr="map_locations")
        )
    )
