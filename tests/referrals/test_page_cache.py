"""The one cache (elvdesk/page_cache.py): a region's generation is raised by every service that
changes what its pages show, after the commit and never for a rolled-back change, and a part is
keyed by it."""

import pytest
from django.db import transaction
from django.test import RequestFactory

from beds import services as beds
from elvdesk import page_cache
from providers.models import Region
from providers.region_settings import region_settings_update
from providers.services import location_update
from referrals import escalations, services
from referrals.models import State
from tests.factories import RegionFactory
from tests.referrals.conftest import referral_input


def generation(region) -> int:
    return Region.objects.get(pk=region.pk).page_generation


def raised_by(region, action) -> int:
    before = generation(region)
    action()
    return generation(region) - before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        "bed count adjusted",
        "counts confirmed",
        "referral submitted",
        "workflow step",
        "offer sent and declined",
        "escalation raised",
        "location edited in Beheer",
        "region settings edited",
    ],
)
def test_every_change_a_page_shows_raises_the_regions_generation(change, desk, submitted):
    actions = {
        "bed count adjusted": lambda: beds.capacity_adjust(
            capacity_id=desk.capacity.pk, by=desk.planner, field="available", delta=1
        ),
        "counts confirmed": lambda: beds.location_capacities_confirm(location_id=desk.location.pk, by=desk.planner),
        "referral submitted": lambda: services.referral_submit(
            by=desk.gp, data={**_input(), "bsn": "123456782"}, idempotency_key=None
        ),
        "workflow step": lambda: services.referral_step(referral=submitted, target=State.TRIAGE, by=desk.coordinator),
        "offer sent and declined": lambda: _offer_and_decline(desk, submitted),
        "escalation raised": lambda: escalations._raise(submitted, "urgent_unplaced", now=submitted.created_at),
        "location edited in Beheer": lambda: location_update(
            location=desk.location, by=desk.coordinator, data={"name": "Renamed"}
        ),
        "region settings edited": lambda: region_settings_update(
            region=desk.region, by=desk.coordinator, data={"offer_expiry_minutes": 45}
        ),
    }
    assert raised_by(desk.region, actions[change]) >= 1


def _input() -> dict:
    return referral_input()


def _offer_and_decline(desk, referral) -> None:
    services.referral_step(referral=referral, target=State.TRIAGE, by=desk.coordinator)
    services.referral_step(referral=referral, target=State.SEARCHING, by=desk.coordinator)
    offer = services.offer_create(referral=referral, capacity=desk.capacity, by=desk.coordinator)
    services.offer_decline(offer=offer, by=desk.planner, reason="no_bed")


@pytest.mark.django_db
def test_another_regions_change_leaves_the_generation_alone(desk):
    other = RegionFactory()
    assert (
        raised_by(other, lambda: beds.capacity_adjust(capacity_id=desk.capacity.pk, by=None, field="total", delta=1))
        == 0
    )


@pytest.mark.django_db(transaction=True)
def test_the_generation_is_raised_once_after_the_commit_and_not_for_a_rollback(django_assert_num_queries):
    region = RegionFactory()
    with transaction.atomic():
        page_cache.region_changed(region.pk)
        page_cache.region_changed(region.pk)
        assert generation(region) == 0  # inside the writer's transaction nobody sees a new number yet
    assert generation(region) == 1  # one statement for the whole transaction

    with django_assert_num_queries(1):
        page_cache.region_changed(region.pk)  # outside a transaction: at once
    assert generation(region) == 2

    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            page_cache.region_changed(region.pk)
            raise RuntimeError("a savepoint rolled back drops the flush registered in it")
        page_cache.region_changed(region.pk)
    assert generation(region) == 3

    with pytest.raises(RuntimeError), transaction.atomic():
        page_cache.region_changed(region.pk)
        raise RuntimeError("the change is rolled back")
    assert generation(region) == 3


@pytest.mark.django_db(transaction=True)
def test_a_bed_count_raises_the_generation_of_its_own_region_only():
    from tests.factories import CapacityFactory, LocationFactory, OrganisationFactory, product

    here, elsewhere = RegionFactory(), RegionFactory()
    location = LocationFactory(organisation=OrganisationFactory(region=here))
    capacity = CapacityFactory(location=location, product=product("elv_hoog"), total=3, available=1)
    beds.capacity_adjust(capacity_id=capacity.pk, by=None, field="available", delta=1)
    assert (generation(here), generation(elsewhere)) == (1, 0)


@pytest.mark.django_db
def test_a_part_is_rendered_again_only_when_its_generation_or_question_changes(desk, monkeypatch, each_cache):
    renders = []

    def part(question):
        request = RequestFactory().get("/")  # a new request: it reads the generation anew

        def context():
            renders.append(question)
            return {"number": len(renders)}, {}

        return page_cache.cached_part(
            request,
            name="test",
            region_id=desk.region.pk,
            question=[question],
            template="includes/csrf_probe.html",
            context=context,
        )

    monkeypatch.setattr(page_cache, "render_to_string", lambda template, values: f"{values['number']}")
    assert part("a").html == "1"
    assert part("a").html == "1"
    assert part("b").html == "2"
    page_cache.region_changed(desk.region.pk)
    assert part("a").html == "3"
