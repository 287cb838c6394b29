"""Zorgplicht (duty of care): an insurer must help its insured find care. When a referral waits
longer than the region's search limit (escalation waiting_long, referrals/escalations.py), the
region's insurer organisations that represent the patient's insurer and have a duty-of-care
contact get an e-mail too, through the outbox (elvdesk/outbox.py): one
`providers.DutyOfCareMessage` per (escalation, organisation), written in the escalation's
transaction (so never lost), claimed and marked sent by `referrals.tasks.send_duty_of_care_email`
(so never sent twice). The e-mail is pseudonymised: referral number, age in years, product and
waiting time, never the BSN, the name or the date of birth.
"""

from datetime import date

from django.utils import timezone

from elvdesk.outbox import outbox_wake_after_commit
from providers.models import DutyOfCareMessage, Organisation, OrganisationKind
from referrals.models import Escalation


def duty_of_care_contacts(*, region_id: int, insurer_id: int | None) -> list[Organisation]:
    """The region's active insurer organisations of `insurer_id` with a duty-of-care address."""
    if insurer_id is None:
        return []
    return list(
        Organisation.objects.filter(
            region_id=region_id, kind=OrganisationKind.INSURER, insurer_id=insurer_id, is_active=True
        ).exclude(duty_of_care_email="")
    )


def duty_of_care_notify(*, escalation: Escalation) -> list[DutyOfCareMessage]:
    """Queue the e-mails for `escalation` (call inside its transaction). Idempotent per
    organisation (unique constraint; existing rows are skipped)."""
    from referrals.tasks import send_duty_of_care_email  # the tasks import the services

    referral = escalation.referral
    contacts = duty_of_care_contacts(region_id=referral.region_id, insurer_id=referral.patient.insurer_id)
    if not contacts:
        return []
    messages = DutyOfCareMessage.objects.bulk_create(
        [DutyOfCareMessage(escalation=escalation, organisation=organisation) for organisation in contacts],
        ignore_conflicts=True,
    )
    pks = list(
        DutyOfCareMessage.objects.filter(escalation=escalation, sent_at__isnull=True).values_list("pk", flat=True)
    )
    outbox_wake_after_commit(task=send_duty_of_care_email, pks=pks)
    return messages


def age_in_years(date_of_birth: date | None, *, on: date | None = None) -> int | None:
    if date_of_birth is None:
        return None
    on = on or timezone.localdate()
    return on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))
