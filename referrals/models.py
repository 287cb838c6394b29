from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    OTHER = "X", _("Other / unknown")


class Patient(models.Model):
    """Only what matching and admission need. The BSN is never put in URLs, logs or e-mails."""

    bsn = models.CharField(_("BSN"), max_length=9, unique=True, null=True, blank=True)
    name = models.CharField(_("name"), max_length=150)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    postcode = models.CharField(_("postcode"), max_length=7, blank=True)
    insurer = models.ForeignKey(
        "providers.Insurer", verbose_name=_("insurer"), on_delete=models.PROTECT, null=True, blank=True
    )
    pseudonymised_at = models.DateTimeField(_("pseudonymised at"), null=True, blank=True)

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")

    def __str__(self) -> str:
        return self.initials

    @property
    def initials(self) -> str:
        """Short form for lists and boards: "A. de V." — never the BSN."""
        parts = [part for part in self.name.split() if part]
        return " ".join(f"{part[0]}." if part[0].isupper() else part for part in parts) or "—"


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    TRIAGE = "triage", _("In triage")
    SEARCHING = "searching", _("Searching a bed")
    OFFERED = "offered", _("Offered to a provider")
    ACCEPTED = "accepted", _("Bed booked")
    ADMITTED = "admitted", _("Admitted")
    DISCHARGED = "discharged", _("Discharged")
    CANCELLED = "cancelled", _("Cancelled")
    REDIRECTED = "redirected", _("Redirected")


LIVE_STATES = (State.SUBMITTED, State.TRIAGE, State.SEARCHING, State.OFFERED, State.ACCEPTED, State.ADMITTED)
OPEN_STATES = (State.SUBMITTED, State.TRIAGE, State.SEARCHING, State.OFFERED, State.ACCEPTED)


class Origin(models.TextChoices):
    HOME = "home", _("Home")
    EMERGENCY = "emergency", _("Emergency department")
    WARD = "ward", _("Hospital ward")


class Urgency(models.TextChoices):
    TODAY = "today", _("Today")
    WITHIN_24H = "within_24h", _("Within 24 hours")
    PLANNED = "planned", _("On a planned date")


class RedirectTarget(models.TextChoices):
    HOSPITAL = "hospital", _("Hospital")
    WLZ_CRISIS = "wlz_crisis", _("Wlz crisis / logeeropvang")
    RESPIJTZORG = "respijtzorg", _("Respite care (Wmo)")
    GRZ = "grz", _("Geriatric rehabilitation (GRZ)")


class Referral(models.Model):
    patient = models.ForeignKey(Patient, verbose_name=_("patient"), on_delete=models.PROTECT, related_name="referrals")
    region = models.ForeignKey("providers.Region", on_delete=models.PROTECT, related_name="referrals")
    organisation = models.ForeignKey(
        "providers.Organisation",
        verbose_name=_("referring organisation"),
        on_delete=models.PROTECT,
        related_name="referrals",
    )
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("referred by"), on_delete=models.PROTECT, related_name="referrals"
    )
    origin = models.CharField(_("origin"), max_length=20, choices=Origin.choices)
    product = models.ForeignKey("providers.Product", verbose_name=_("requested product"), on_delete=models.PROTECT)
    urgency = models.CharField(_("urgency"), max_length=20, choices=Urgency.choices)
    planned_date = models.DateField(_("planned date"), null=True, blank=True)
    # LHV criteria for ELV
    wakeful_eye = models.BooleanField(_("needs a 'wakend oog' (supervision around the clock)"), default=False)
    unplannable_nursing = models.BooleanField(_("needs unplannable nursing care"), default=False)
    adl_taken_over = models.BooleanField(_("ADL has to be taken over"), default=False)
    care_needs = models.ManyToManyField("providers.Feature", verbose_name=_("care needs"), blank=True)
    # Decision support answers (advice only)
    wlz_indication = models.BooleanField(_("has a Wlz indication"), default=False)
    life_expectancy_short = models.BooleanField(_("life expectancy under 3 months"), default=False)
    needs_hospital_care = models.BooleanField(_("needs medical-specialist (hospital) care"), default=False)
    carer_relief_only = models.BooleanField(
        _("medically stable; the need is relief of the informal carer"), default=False
    )
    trainable_after_hospital = models.BooleanField(
        _("learnable/trainable and within a week of a hospital stay"), default=False
    )
    needs_elderly_care_specialist = models.BooleanField(
        _("complex care that needs a specialist ouderengeneeskunde"), default=False
    )
    medical_reason = models.TextField(_("medical reason"))
    consent = models.BooleanField(_("patient consents to the referral"), default=False)
    carer_contact = models.CharField(_("informal carer (name and phone)"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Chosen on the bed overview ("Aanmelden voor deze locatie"): ranked first while it fits.
    preferred_location = models.ForeignKey(
        "providers.Location",
        verbose_name=_("preferred location"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.SUBMITTED)
    redirect_target = models.CharField(_("redirected to"), max_length=20, choices=RedirectTarget.choices, blank=True)
    close_reason = models.TextField(_("reason"), blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("submitted at"), default=timezone.now, db_index=True)
    state_changed_at = models.DateTimeField(_("state changed at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(state__in=LIVE_STATES), name="referral_one_live_per_patient"
            ),
            models.UniqueConstraint(
                fields=["referred_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="referral_idempotency_key_per_user",
            ),
            models.CheckConstraint(
                condition=~Q(urgency="planned") | Q(planned_date__isnull=False), name="referral_planned_has_date"
            ),
        ]
        indexes = [models.Index(fields=["region", "state"]), models.Index(fields=["organisation", "state"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.patient.initials} · {self.product}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class ReferralEvent(models.Model):
    """Append-only timeline: every state change, who made it, when and why."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(_("from"), max_length=20, choices=State.choices)
    to_state = models.CharField(_("to"), max_length=20, choices=State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("referral event")
        verbose_name_plural = _("referral events")

    def __str__(self) -> str:
        return f"{self.referral_id}: {self.from_state} → {self.to_state}"


class OfferState(models.TextChoices):
    OPEN = "open", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    # A booking that ended before admission; the bed went back to the count.
    CANCELLED = "cancelled", _("Booking cancelled")
    NO_SHOW = "no_show", _("Patient did not arrive")


# Offers the provider accepted, whatever happened to the booking afterwards: the figures of
# acceptance (time to a bed, acceptance rate, the booked location) count them all.
BOOKED_OFFER_STATES = (OfferState.ACCEPTED, OfferState.CANCELLED, OfferState.NO_SHOW)


class DeclineReason(models.TextChoices):
    NO_BED = "no_bed", _("No bed after all")
    TOO_COMPLEX = "too_complex", _("Care too complex for this location")
    NO_PHYSICIAN = "no_physician", _("No physician available")
    INSURER = "insurer", _("Insurer not contracted")
    OTHER = "other", _("Other")


class Offer(models.Model):
    """A request to one location to take the patient. Holds one bed while open."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="offers")
    capacity = models.ForeignKey("beds.Capacity", on_delete=models.PROTECT, related_name="offers")
    location = models.ForeignKey("providers.Location", on_delete=models.PROTECT, related_name="offers")
    product = models.ForeignKey("providers.Product", on_delete=models.PROTECT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    state = models.CharField(_("state"), max_length=20, choices=OfferState.choices, default=OfferState.OPEN)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decline_reason = models.CharField(_("decline reason"), max_length=20, choices=DeclineReason.choices, blank=True)
    decline_text = models.TextField(_("explanation"), blank=True)
    admission_at = models.DateTimeField(_("expected admission"), null=True, blank=True)
    # A planned admission on a later day: the offer asks for a reservation against the beds the
    # provider expects by then and holds no bed today; accepted, the bed is taken on that day.
    for_date = models.DateField(_("reserved for"), null=True, blank=True)
    taken_at = models.DateTimeField(_("bed taken at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            # Parallel offers (up to Region.max_parallel_offers), never two open at one location.
            models.UniqueConstraint(
                fields=["referral", "location"], condition=Q(state="open"), name="offer_one_open_per_location"
            ),
        ]
        indexes = [models.Index(fields=["state", "expires_at"]), models.Index(fields=["location", "state"])]

    def __str__(self) -> str:
        return f"{self.location} · #{self.referral_id}"

    def is_expired(self, now=None) -> bool:
        return self.state == OfferState.OPEN and (now or timezone.now()) >= self.expires_at


class DischargeDestination(models.TextChoices):
    HOME = "home", _("Home")
    HOME_DISTRICT_NURSING = "home_district_nursing", _("Home with district nursing")
    WLZ_INSTITUTION = "wlz_institution", _("Wlz institution")
    GRZ = "grz", _("Geriatric rehabilitation (GRZ)")
    HOSPITAL = "hospital", _("Hospital")
    DECEASED = "deceased", _("Deceased")
    OTHER = "other", _("Other")


class Stay(models.Model):
    referral = models.OneToOneField(Referral, on_delete=models.PROTECT, related_name="stay")
    location = models.ForeignKey("providers.Location", on_delete=models.PROTECT, related_name="stays")
    capacity = models.ForeignKey("beds.Capacity", on_delete=models.PROTECT, related_name="stays")
    admitted_at = models.DateTimeField(_("admitted at"))
    discharged_at = models.DateTimeField(_("discharged at"), null=True, blank=True)
    discharge_destination = models.CharField(
        _("discharge destination"), max_length=30, choices=DischargeDestination.choices, blank=True
    )

    class Meta:
        verbose_name = _("stay")
        verbose_name_plural = _("stays")
        constraints = [
            models.CheckConstraint(
                condition=Q(discharged_at__isnull=True) | Q(discharged_at__gte=models.F("admitted_at")),
                name="stay_discharge_after_admission",
            )
        ]

    def __str__(self) -> str:
        return f"{self.referral} @ {self.location}"


class StayProductChange(models.Model):
    """Op- of afschaling: the stay's product switched at the same location (hoog ↔ laag, to
    palliatief); the bed moved from one count to the other in the same transaction."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="product_changes")
    from_capacity = models.ForeignKey("beds.Capacity", on_delete=models.PROTECT, related_name="+")
    to_capacity = models.ForeignKey("beds.Capacity", on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        verbose_name = _("product change during a stay")
        verbose_name_plural = _("product changes during stays")

    def __str__(self) -> str:
        return f"{self.stay_id}: {self.from_capacity_id} → {self.to_capacity_id}"


class ReferralDraft(models.Model):
    """What a referrer typed so far, kept as typed (also invalid values) until submitted."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="referral_drafts")
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"draft {self.pk} of {self.user}"


class Notification(models.Model):
    """In-app message and e-mail outbox in one (elvdesk/outbox.py): `claimed_at` is the sending
    task's lease, `sent_at` is set once the mail server accepted the e-mail (or there was nothing
    to send: the user has no address).

    Carries no patient data: the text names the referral number and links to it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"]), models.Index(fields=["sent_at", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user}"


class EscalationKind(models.TextChoices):
    UNTRIAGED = "untriaged", _("Not triaged in time")
    OFFER_UNANSWERED = "offer_unanswered", _("Offer not answered in time")
    URGENT_UNPLACED = "urgent_unplaced", _("Urgent referral still without a bed")
    DISCHARGE_TOMORROW = "discharge_tomorrow", _("Planned discharge tomorrow, no bed yet")
    WAITING_LONG = "waiting_long", _("Searching longer than the region's limit")
    RESERVATION_AT_RISK = "reservation_at_risk", _("Reserved bed for a planned admission not free")


class Escalation(models.Model):
    """A referral that needs the desk's attention (docs/architecture.md §2.8), raised and resolved by a
    periodic job. Each cause is recorded once while open (an unanswered offer once ever); it is
    resolved when the cause is gone. `details` holds hints such as free beds in neighbouring
    regions at the moment it was raised (no patient data)."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="escalations")
    kind = models.CharField(_("kind"), max_length=30, choices=EscalationKind.choices)
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("raised at"), default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "kind"],
                condition=Q(resolved_at__isnull=True, offer__isnull=True),
                name="escalation_one_open_per_cause",
            ),
            models.UniqueConstraint(
                fields=["offer"], condition=Q(offer__isnull=False), name="escalation_once_per_offer"
            ),
        ]
        indexes = [models.Index(fields=["kind", "resolved_at"])]

    def __str__(self) -> str:
        return f"#{self.referral_id} · {self.kind}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class BedProposal(models.Model):
    """A bed that came free and fits a referral still searching (referrals/proposals.py): shown to
    the desk on the board and, in self-service hours, told to the referrer. One row per referral
    and freeing change, so a second run of the job proposes nothing twice."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="proposals")
    capacity = models.ForeignKey("beds.Capacity", on_delete=models.CASCADE, related_name="+")
    freed_by = models.ForeignKey("beds.CapacityChange", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bed proposal")
        verbose_name_plural = _("bed proposals")
        constraints = [
            models.UniqueConstraint(fields=["referral", "freed_by"], name="bed_proposal_once_per_change"),
        ]

    def __str__(self) -> str:
        return f"#{self.referral_id} ← {self.capacity_id}"
