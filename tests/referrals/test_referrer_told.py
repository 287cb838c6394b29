"""The referrer is told (issue 17 point 7): a notification (in the portal and by e-mail, after the
commit) when the patient is admitted and when discharged, without patient data in the e-mail;
the referral page shows where and when the patient was admitted, and when and where to discharged."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from referrals import services
from referrals.models import Notification
from referrals.notifications import Kind
from tests.clients import client_for
from tests.referrals.conftest import VALID_BSN


@pytest.fixture
def admitted(desk, accepted):
    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    accepted.refresh_from_db()
    return accepted


def told(referral, kind) -> list:
    return list(Notification.objects.filter(referral=referral, kind=kind).values_list("user", flat=True))


def test_the_referrer_alone_is_told_of_the_admission(desk, admitted):
    assert told(admitted, Kind.PATIENT_ADMITTED) == [desk.gp.pk]


def test_the_referrer_alone_is_told_of_the_discharge(desk, admitted):
    services.stay_discharge(referral=admitted, by=desk.planner, discharged_at=timezone.now(), destination="grz")

    assert told(admitted, Kind.PATIENT_DISCHARGED) == [desk.gp.pk]


def test_a_referrer_whose_account_is_closed_is_not_told(desk, accepted):
    desk.gp.is_active = False
    desk.gp.save()

    services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    services.stay_discharge(referral=accepted, by=desk.planner, discharged_at=timezone.now(), destination="home")

    assert not Notification.objects.filter(kind__in=[Kind.PATIENT_ADMITTED, Kind.PATIENT_DISCHARGED]).exists()


def test_a_refused_discharge_tells_nobody(desk, admitted):
    with pytest.raises(ValidationError):
        services.stay_discharge(referral=admitted, by=desk.planner, discharged_at=timezone.now(), destination="x")

    assert told(admitted, Kind.PATIENT_DISCHARGED) == []


def test_the_emails_name_the_referral_and_no_patient_data_not_even_the_destination(
    desk, accepted, django_capture_on_commit_callbacks
):
    desk.gp.language, desk.gp.first_name = "en", "Anna"  # "Dear Anna,": not a name the check looks for
    desk.gp.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.stay_admit(referral=accepted, by=desk.planner, admitted_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.stay_discharge(
            referral=accepted, by=desk.planner, discharged_at=timezone.now(), destination="wlz_institution"
        )

    admitted_mail, discharged_mail = [message for message in mail.outbox if message.to == [desk.gp.email]]
    assert admitted_mail.subject == f"Referral #{accepted.pk}: the patient has been admitted"
    assert discharged_mail.subject == f"Referral #{accepted.pk}: the patient has been discharged"
    for message in (admitted_mail, discharged_mail):
        assert f"/referrals/{accepted.pk}/" in message.body
        everything = message.subject + message.body + message.alternatives[0][0]
        for secret in (VALID_BSN, "Maria", "Jansen", "1938", "Wlz", "wlz_institution", desk.location.name):
            assert secret not in everything
    assert "Where the patient went is shown on the referral, not in this e-mail." in discharged_mail.body


def test_the_notification_list_shows_both_without_the_destination(desk, admitted):
    services.stay_discharge(
        referral=admitted, by=desk.planner, discharged_at=timezone.now(), destination="wlz_institution"
    )

    page = client_for(desk.gp).get(reverse("referrals:notifications")).content.decode()

    assert f"Referral #{admitted.pk}: the patient has been admitted" in page
    assert f"Referral #{admitted.pk}: the patient has been discharged" in page
    assert "Wlz institution" not in page


def test_the_gp_sees_the_admission_with_location_and_time_on_the_referral(desk, admitted):
    page = client_for(desk.gp).get(reverse("referrals:detail", args=[admitted.pk])).content.decode()

    admitted_at = timezone.localtime(admitted.stay.admitted_at).strftime("%H:%M")
    assert 'id="stay-title">Patient admitted<' in page
    assert desk.location.name in page and desk.location.organisation.name in page
    assert admitted_at in page.split('id="stay-admitted">', 1)[1].split("<", 1)[0]


def test_the_gp_sees_the_discharge_with_time_and_destination_on_the_referral(desk, admitted):
    services.stay_discharge(
        referral=admitted, by=desk.planner, discharged_at=timezone.now(), destination="home_district_nursing"
    )
    admitted.stay.refresh_from_db()

    page = client_for(desk.gp).get(reverse("referrals:detail", args=[admitted.pk])).content.decode()

    assert 'id="stay-title">Patient discharged<' in page
    assert 'id="stay-destination">Home with district nursing<' in page
    discharged_at = timezone.localtime(admitted.stay.discharged_at).strftime("%H:%M")
    assert discharged_at in page.split('id="stay-discharged">', 1)[1].split("<", 1)[0]
    assert desk.location.name in page
