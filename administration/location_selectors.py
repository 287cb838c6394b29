"""Reads of the location pages of Beheer: always within the administrator's region."""

from dataclasses import dataclass

from beds.models import Capacity
from providers.models import Location, Product


@dataclass
class Contract:
    """One product of the region at a location: its bed count, or None when not offered there."""

    product: Product
    capacity: Capacity | None

    @property
    def version(self) -> int:
        return self.capacity.version if self.capacity is not None else 0


def location_in_region(*, region_id: int, pk: int) -> Location | None:
    return (
        Location.objects.select_related("organisation")
        .prefetch_related("features", "contracted_insurers")
        .filter(organisation__region_id=region_id, pk=pk)
        .first()
    )


def location_contracts(*, location: Location) -> list[Contract]:
    """Every product the region offers, in the region's order, with the location's counts; then
    any product the location still has that the region no longer offers."""
    capacities = {
        capacity.product_id: capacity
        for capacity in Capacity.objects.filter(location=location).select_related("product", "confirmed_by")
    }
    products = list(Product.objects.filter(region__pk=location.organisation.region_id).order_by("sort_order", "code"))
    contracts = [Contract(product=product, capacity=capacities.pop(product.pk, None)) for product in products]
    contracts += [Contract(product=capacity.product, capacity=capacity) for capacity in capacities.values()]
    return contracts
