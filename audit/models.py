from contextlib import nullcontext

from django.conf import settings
from django.db import connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    READ = "read", _("Read")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    EXPORT = "export", _("Export")
    PRINT = "print", _("Print")
    SEARCH = "search", _("Search")


class Outcome(models.TextChoices):
    OK = "ok", _("Allowed")
    DENIED = "denied", _("Refused")
    NOT_FOUND = "not_found", _("Not found")
    ERROR = "error", _("Error")


class Channel(models.TextChoices):
    PAGE = "page", _("Page")
    HTMX = "htmx", _("Page fragment")
    API = "api", _("API")
    FHIR = "fhir", _("FHIR")
    ADMIN = "admin", _("Administration")
    EXPORT = "export", _("Export")
    JOB = "job", _("Background job")


APPEND_BATCH = 500  # rows per INSERT: 7,000 parameters, well within PostgreSQL's and SQLite's limits


class AccessLogQuerySet(models.QuerySet):
    """Append-only: the application can add rows, never change or remove them."""

    def update(self, **kwargs):
        raise PermissionError("The access log is append-only.")

    def delete(self):
        raise PermissionError("The access log is append-only.")

    def append(self, rows: list[dict]) -> None:
        """Adds `rows` (field name → value, every concrete field but the id; a nullable one may be
        left out) with plain INSERT
        statements of up to APPEND_BATCH rows. A board view logs a row per card, and building a
        model instance per row and Django's bulk INSERT cost far more than storing them."""
        fields = [field for field in self.model._meta.concrete_fields if not field.primary_key]
        connection = connections[self.db]
        table = connection.ops.quote_name(self.model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        row_placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        batches = [rows[start : start + APPEND_BATCH] for start in range(0, len(rows), APPEND_BATCH)]
        # One INSERT is atomic by itself (no BEGIN and COMMIT around it); several go in together.
        together = transaction.atomic(using=self.db, savepoint=False) if len(batches) > 1 else nullcontext()
        with together, connection.cursor() as cursor:
            for batch in batches:
                values = [
                    field.get_db_prep_save(row.get(field.attname) if field.null else row[field.attname], connection)
                    for row in batch
                    for field in fields
                ]
                placeholders = ", ".join([row_placeholders] * len(batch))
                sql = f"INSERT INTO {table} ({columns}) VALUES {placeholders}"  # nosec B608: names from the model
                cursor.execute(sql, values)


class AccessLog(models.Model):
    """One access to patient data (NEN 7513): who, in which role and organisation, on whose
    behalf, did what to which patient and referral, when, with what outcome, from where.

    Foreign keys carry no database constraint and never cascade, so deleting or pseudonymising
    elsewhere can never touch a log row; names are copied so the row stays readable."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    user_name = models.CharField(_("user"), max_length=150)
    role = models.CharField(_("role"), max_length=20, blank=True)
    organisation = models.ForeignKey(
        "providers.Organisation", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    organisation_name = models.CharField(_("organisation"), max_length=150, blank=True)
    on_behalf_of = models.CharField(_("on behalf of"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    patient = models.ForeignKey(
        "referrals.Patient", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    # The person whose account or role was changed (functional administration, NEN 7513 §
    # "wijzigingen in autorisaties"); empty for accesses to patient data.
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OK)
    source_address = models.GenericIPAddressField(_("source address"), null=True, blank=True)
    # The route without its query string: search terms (a BSN) must not end up here.
    path = models.CharField(_("path"), max_length=300, blank=True)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [models.Index(fields=["patient", "-at"]), models.Index(fields=["referral", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_name} {self.action} {self.referral_id or self.patient_id}"


class ChangeQuerySet(models.QuerySet):
    """Append-only, like the access log."""

    def update(self, **kwargs):
        raise PermissionError("The change history is append-only.")

    def delete(self):
        raise PermissionError("The change history is append-only.")


class ChangeRecord(models.Model):
    """One change made in the functional administration ("Beheer"): who changed what, when,
    before and after. Written by the services that make the change (audit/changes.py), in the
    same transaction. Like the access log, its references carry no database constraint, so the
    history outlives what it describes; names are copied so a row stays readable."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    by_name = models.CharField(_("by"), max_length=150)
    region = models.ForeignKey(
        "providers.Region", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    # What was changed: a short type name ("organisation", "location", "user", "region",
    # "capacity") and its id, with its name at the time.
    object_type = models.CharField(_("object type"), max_length=30)
    object_id = models.BigIntegerField(_("object id"))
    object_name = models.CharField(_("object"), max_length=200)
    action = models.CharField(_("action"), max_length=30)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)

    objects = ChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("administration change")
        verbose_name_plural = _("administration changes")
        indexes = [
            models.Index(fields=["object_type", "object_id", "-at"]),
            models.Index(fields=["region", "-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.by_name} {self.action} {self.object_type} {self.object_id}"
