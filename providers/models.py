from datetime import time

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

agb_validator = RegexValidator(r"^\d{8}$", _("An AGB code has exactly 8 digits."))
ura_validator = RegexValidator(r"^\d{8}$", _("A URA number has exactly 8 digits."))
uzovi_validator = RegexValidator(r"^\d{4}$", _("A UZOVI code has exactly 4 digits."))


class Product(models.Model):
    """A kind of bed the desk arranges (ELV laag, hoog, palliatief, GRZ …). Rows, not code."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_elv = models.BooleanField(_("ELV product"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.name


class Feature(models.Model):
    """Something a location offers that a patient may need (single room, oxygen …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name = _("feature")
        verbose_name_plural = _("features")

    def __str__(self) -> str:
        return self.name


class Insurer(models.Model):
    """A Dutch health insurer (zorgverzekeraar), identified by its UZOVI code."""

    uzovi = models.CharField(_("UZOVI code"), max_length=4, unique=True, validators=[uzovi_validator])
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name = _("insurer")
        verbose_name_plural = _("insurers")

    def __str__(self) -> str:
        return f"{self.name} ({self.uzovi})"


class PostcodeArea(models.Model):
    """Centroid of a 4-digit postcode area (GeoNames, CC BY 4.0; see providers/data/README.md)."""

    pc4 = models.CharField(_("PC4"), max_length=4, primary_key=True)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))

    class Meta:
        verbose_name = _("postcode area")
        verbose_name_plural = _("postcode areas")

    def __str__(self) -> str:
        return self.pc4


class SelfServiceOffers(models.TextChoices):
    NEVER = "never", _("Never: only the desk sends offers")
    OUTSIDE_OFFICE_HOURS = "outside_office_hours", _("Outside office hours")
    ALWAYS = "always", _("Always")


class Region(models.Model):
    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    products = models.ManyToManyField(Product, verbose_name=_("products on offer"), blank=True)
    neighbours = models.ManyToManyField("self", verbose_name=_("neighbouring regions"), blank=True)
    stale_after_hours = models.PositiveSmallIntegerField(_("bed counts are stale after (hours)"), default=12)
    offer_expiry_minutes = models.PositiveSmallIntegerField(_("offer expires after (minutes)"), default=30)
    max_parallel_offers = models.PositiveSmallIntegerField(_("offers to different locations at once"), default=3)
    search_limit_hours = models.PositiveSmallIntegerField(
        _("escalate a referral searching longer than (hours)"), default=8
    )
    triage_sla_minutes = models.PositiveSmallIntegerField(_("triage within (minutes)"), default=15)
    urgent_placement_hours = models.PositiveSmallIntegerField(_("urgent placement within (hours)"), default=4)
    overview_times = models.CharField(
        _("daily overview times"), max_length=60, default="07:30,16:00", help_text=_("HH:MM, comma-separated")
    )
    retention_days = models.PositiveSmallIntegerField(_("keep patient data of closed referrals (days)"), default=90)
    share_capacity_with_neighbours = models.BooleanField(
        _("show our bed counts to neighbouring regions"),
        default=True,
        help_text=_("Coordinators and analysts of neighbouring regions see our free beds per product and location."),
    )
    self_service_offers = models.CharField(
        _("referrers may send offers themselves"),
        max_length=30,
        choices=SelfServiceOffers.choices,
        default=SelfServiceOffers.OUTSIDE_OFFICE_HOURS,
    )
    office_hours_start = models.TimeField(_("office hours start"), default=time(8, 0))
    office_hours_end = models.TimeField(_("office hours end"), default=time(17, 0))
    desk_phone = models.CharField(
        _("desk phone number"),
        max_length=20,
        blank=True,
        help_text=_("The regional desk's number, shown on every page for referrers."),
    )
    # Raised after every change to what the region's pages show (elvdesk/page_cache.py): the key
    # of their cached parts.
    page_generation = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name

    def in_office_hours(self, moment) -> bool:
        local = timezone.localtime(moment)
        return local.weekday() < 5 and self.office_hours_start <= local.time() < self.office_hours_end

    def self_service_allowed(self, moment) -> bool:
        """Whether GPs and transfer nurses may send offers themselves at `moment`."""
        if self.self_service_offers == SelfServiceOffers.ALWAYS:
            return True
        if self.self_service_offers == SelfServiceOffers.NEVER:
            return False
        return not self.in_office_hours(moment)


class OrganisationKind(models.TextChoices):
    PROVIDER = "provider", _("Care provider")
    GP_PRACTICE = "gp_practice", _("GP practice")
    HOSPITAL = "hospital", _("Hospital")
    DESK = "desk", _("Coordination desk")
    INSURER = "insurer", _("Insurer")


class Organisation(models.Model):
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="organisations")
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    name = models.CharField(_("name"), max_length=150)
    agb_code = models.CharField(
        _("AGB code"), max_length=8, unique=True, null=True, blank=True, validators=[agb_validator]
    )
    ura = models.CharField(
        _("URA number"),
        max_length=8,
        blank=True,
        validators=[ura_validator],
        help_text=_("UZI register subscriber number, where known."),
    )
    street = models.CharField(_("street and number"), max_length=150, blank=True)
    postcode = models.CharField(_("postcode"), max_length=7, blank=True)
    city = models.CharField(_("city"), max_length=80, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Inactive: kept with its history, gone from search, matching and the social map.
    is_active = models.BooleanField(_("active"), default=True)
    # Only for kind INSURER: the UZOVI insurer this organisation represents in the region. Its
    # analysts see the monitoring of this insurer's insured (cockpit/monitoring.py).
    insurer = models.ForeignKey(
        Insurer,
        verbose_name=_("insurer represented"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organisations",
    )
    duty_of_care_email = models.EmailField(
        _("duty of care contact (e-mail)"),
        blank=True,
        help_text=_("Zorgplicht: escalations of this insurer's insured who wait too long for a bed go here."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class TreatingPhysician(models.TextChoices):
    GP = "gp", _("The patient's GP")
    ELDERLY_CARE_SPECIALIST = "specialist", _("Specialist ouderengeneeskunde")


class Location(models.Model):
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="locations"
    )
    name = models.CharField(_("name"), max_length=150)
    street = models.CharField(_("street and number"), max_length=150)
    postcode = models.CharField(_("postcode"), max_length=7, help_text=_("For example 6411 AB"))
    city = models.CharField(_("city"), max_length=80)
    latitude = models.FloatField(_("latitude"), null=True, blank=True, editable=False)
    longitude = models.FloatField(_("longitude"), null=True, blank=True, editable=False)
    phone_24_7 = models.CharField(_("24/7 phone"), max_length=20)
    phone_office = models.CharField(_("phone during office hours"), max_length=20, blank=True)
    treating_physician = models.CharField(
        _("treating physician"), max_length=20, choices=TreatingPhysician.choices, default=TreatingPhysician.GP
    )
    referral_procedure = models.TextField(
        _("referral procedure"), blank=True, help_text=_("How to refer a patient here, in a few sentences.")
    )
    admission_24_7 = models.BooleanField(_("admission 24/7"), default=False)
    admission_from = models.TimeField(_("admission from"), null=True, blank=True)
    admission_until = models.TimeField(_("admission until"), null=True, blank=True)
    specialist_24_7 = models.BooleanField(_("specialist ouderengeneeskunde available 24/7"), default=False)
    features = models.ManyToManyField(Feature, verbose_name=_("features"), blank=True)
    contracted_insurers = models.ManyToManyField(Insurer, verbose_name=_("contracted insurers"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        indexes = [models.Index(fields=["organisation", "is_active"])]

    def __str__(self) -> str:
        return self.name

    def admits_at(self, moment_time) -> bool:
        """Whether a patient can be admitted at this local time of day."""
        if self.admission_24_7:
            return True
        if self.admission_from is None or self.admission_until is None:
            return False
        return self.admission_from <= moment_time <= self.admission_until


class ContactProblemKind(models.TextChoices):
    OFFER_UNHEARD = "offer_unheard", _("Offer reached no planner")
    CANCELLATION_UNHEARD = "cancellation_unheard", _("Cancelled booking reached no planner")
    REMINDER_UNHEARD = "reminder_unheard", _("Stale-count reminder reached no planner")


class ContactProblem(models.Model):
    """Something the portal had to tell a provider location and could tell nobody (no active
    planner, or for an e-mail reminder none with an address): the desk phones instead.

    Raised by providers.contact_problems (never twice: one open problem per location for
    reminders, one per offer and kind for offers), listed by providers.reachability, closed by
    the desk ("Handled"). Carries no patient data: at most the referral's and offer's ids.
    """

    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(
        Location, verbose_name=_("location"), on_delete=models.CASCADE, related_name="contact_problems"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=ContactProblemKind.choices)
    referral = models.ForeignKey(
        "referrals.Referral",
        verbose_name=_("referral"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    offer = models.ForeignKey(
        "referrals.Offer", verbose_name=_("offer"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("contact problem")
        verbose_name_plural = _("contact problems")
        constraints = [
            models.UniqueConstraint(
                fields=["location", "kind"],
                condition=models.Q(resolved_at__isnull=True, kind="reminder_unheard"),
                name="contact_problem_one_open_reminder_per_location",
            ),
            models.UniqueConstraint(
                fields=["offer", "kind"], condition=models.Q(offer__isnull=False), name="contact_problem_one_per_offer"
            ),
        ]
        indexes = [models.Index(fields=["region", "resolved_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.location}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class DutyOfCareMessage(models.Model):
    """Zorgplicht: an e-mail to an insurer organisation's duty-of-care contact about one of its
    insured who waits too long for a bed (an escalation of kind waiting_long). An outbox row
    (elvdesk/outbox.py): written in the escalation's transaction, sent once by
    referrals.tasks.send_duty_of_care_email. It holds no patient data; the e-mail is rendered
    from the referral at sending time, pseudonymised (referral number, age, product, waiting time)."""

    escalation = models.ForeignKey("referrals.Escalation", on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="duty_of_care_messages")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("duty of care e-mail")
        verbose_name_plural = _("duty of care e-mails")
        constraints = [
            models.UniqueConstraint(fields=["escalation", "organisation"], name="duty_of_care_once_per_escalation")
        ]

    def __str__(self) -> str:
        return f"{self.organisation} · {self.escalation_id}"
