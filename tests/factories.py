"""factory_boy factories for the foundation models.

Reference rows (products, features, insurers, PC4 centroids) are loaded by the data migration
`providers.0002_reference_data`, so they exist in every test database: factories reuse them
instead of inventing new ones.
"""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Role, User
from beds.models import Capacity
from providers.models import (
    Feature,
    Insurer,
    Location,
    Organisation,
    OrganisationKind,
    PostcodeArea,
    Product,
    Region,
)

TEST_PASSWORD = "Test-ELV-2026!"


class RegionFactory(DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"region-{n}")
    name = factory.Sequence(lambda n: f"Region {n}")

    @factory.post_generation
    def products(self, create, extracted, **kwargs):
        """By default a region offers every product; pass `products=[...]` to choose."""
        if not create:
            return
        self.products.set(extracted if extracted is not None else Product.objects.all())


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation

    region = factory.SubFactory(RegionFactory)
    kind = OrganisationKind.PROVIDER
    name = factory.Sequence(lambda n: f"Zorgorganisatie {n}")
    agb_code = factory.Sequence(lambda n: f"{73000000 + n:08d}")
    email = factory.LazyAttribute(lambda o: f"info{o.agb_code or ''}@example.org")
    phone = "045 500 0000"


class ProviderFactory(OrganisationFactory):
    kind = OrganisationKind.PROVIDER
    name = factory.Sequence(lambda n: f"Zorggroep {n}")


class GpPracticeFactory(OrganisationFactory):
    kind = OrganisationKind.GP_PRACTICE
    name = factory.Sequence(lambda n: f"Huisartsenpraktijk {n}")
    agb_code = factory.Sequence(lambda n: f"{1000000 + n:08d}")


class HospitalFactory(OrganisationFactory):
    kind = OrganisationKind.HOSPITAL
    name = factory.Sequence(lambda n: f"Ziekenhuis {n}")
    agb_code = factory.Sequence(lambda n: f"{6000000 + n:08d}")


class DeskFactory(OrganisationFactory):
    kind = OrganisationKind.DESK
    name = factory.Sequence(lambda n: f"Regioloket {n}")
    agb_code = None


class InsurerOrganisationFactory(OrganisationFactory):
    kind = OrganisationKind.INSURER
    name = factory.Sequence(lambda n: f"Zorgverzekeraar {n}")
    agb_code = None


ORGANISATION_FACTORY_BY_KIND = {
    OrganisationKind.PROVIDER: ProviderFactory,
    OrganisationKind.GP_PRACTICE: GpPracticeFactory,
    OrganisationKind.HOSPITAL: HospitalFactory,
    OrganisationKind.DESK: DeskFactory,
    OrganisationKind.INSURER: InsurerOrganisationFactory,
}


def _area(pc4: str) -> PostcodeArea:
    return PostcodeArea.objects.get(pc4=pc4)


class LocationFactory(DjangoModelFactory):
    """A location on a real PC4 (default 6411, Heerlen) with the centroid's coordinates.

    Pass `pc4="6212"` to put it elsewhere; the postcode and coordinates follow.
    """

    class Meta:
        model = Location
        exclude = ("pc4", "area")
        skip_postgeneration_save = True

    pc4 = "6411"
    area = factory.LazyAttribute(lambda o: _area(o.pc4))
    organisation = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Locatie {n:03d}")
    street = factory.Sequence(lambda n: f"Hoofdstraat {n + 1}")
    postcode = factory.LazyAttribute(lambda o: f"{o.pc4} AB")
    city = "Heerlen"
    latitude = factory.LazyAttribute(lambda o: o.area.latitude)
    longitude = factory.LazyAttribute(lambda o: o.area.longitude)
    phone_24_7 = "045 555 1234"
    admission_24_7 = True

    @factory.post_generation
    def features(self, create, extracted, **kwargs):
        """`features=["oxygen", "single_room"]` (codes or Feature rows)."""
        if create and extracted:
            self.features.set([_feature(item) for item in extracted])

    @factory.post_generation
    def insurers(self, create, extracted, **kwargs):
        """`insurers=["3311"]` (UZOVI codes or Insurer rows) as contracted insurers."""
        if create and extracted:
            self.contracted_insurers.set([_insurer(item) for item in extracted])


def _feature(item) -> Feature:
    return item if isinstance(item, Feature) else Feature.objects.get(code=item)


def _insurer(item) -> Insurer:
    return item if isinstance(item, Insurer) else Insurer.objects.get(uzovi=item)


class ProductFactory(DjangoModelFactory):
    """Reuses the products loaded by the migration (elv_laag, elv_hoog, elv_palliatief …)."""

    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = "elv_laag"
    name = factory.LazyAttribute(lambda o: o.code)


def product(code: str) -> Product:
    return Product.objects.get(code=code)


class CapacityFactory(DjangoModelFactory):
    """A fresh (just confirmed) count: 10 contracted, 3 free, none held."""

    class Meta:
        model = Capacity

    location = factory.SubFactory(LocationFactory)
    product = factory.SubFactory(ProductFactory)
    total = 10
    available = 3
    held = 0
    expected_24h = 1
    expected_72h = 2
    confirmed_at = factory.LazyFunction(timezone.now)


STAFF_FIRST_NAMES = ["Anouk", "Bram", "Daan", "Eva", "Femke", "Gijs", "Iris", "Joost", "Lotte", "Niels", "Roos", "Sven"]
STAFF_LAST_NAMES = ["Bakker", "Claessens", "Dekker", "Hermans", "Kuipers", "Lemmens", "Peeters", "Vos", "Wouters"]


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    # Staff names from a fixed list, never a patient's name of the tests ("Maria Jansen", ...): a
    # random name could put "Maria" in a page header or a greeting and fail a no-leak check only
    # sometimes.
    first_name = factory.Iterator(STAFF_FIRST_NAMES)
    last_name = factory.Iterator(STAFF_LAST_NAMES)
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    role = Role.GP
    organisation = factory.SubFactory(GpPracticeFactory)
    password = factory.django.Password(TEST_PASSWORD)


# The organisation kind each role normally works for.
ORGANISATION_KIND_BY_ROLE = {
    Role.GP: OrganisationKind.GP_PRACTICE,
    Role.TRANSFER_NURSE: OrganisationKind.HOSPITAL,
    Role.PROVIDER_STAFF: OrganisationKind.PROVIDER,
    Role.COORDINATOR: OrganisationKind.DESK,
    Role.ADMIN: OrganisationKind.DESK,
    Role.ANALYST: OrganisationKind.INSURER,
}


def user_with_role(role: str, organisation: Organisation | None = None, *, region: Region | None = None, **kwargs):
    """A user with `role` in `organisation`, or in a new organisation of the fitting kind
    (in `region` when given)."""
    if organisation is None:
        org_factory = ORGANISATION_FACTORY_BY_KIND[ORGANISATION_KIND_BY_ROLE[Role(role)]]
        organisation = org_factory(region=region) if region is not None else org_factory()
    return UserFactory(role=role, organisation=organisation, **kwargs)
