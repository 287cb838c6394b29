"""Readable names for the Beheer change history: its action codes, object types and the fields
in its before/after, in the user's language (the rows themselves keep the short English codes)."""

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ACTION_LABELS = {
    "create": gettext_lazy("Created"),
    "update": gettext_lazy("Changed"),
    "activate": gettext_lazy("Activated"),
    "deactivate": gettext_lazy("Deactivated"),
    "invite": gettext_lazy("Invited"),
    "invite_resend": gettext_lazy("Invitation sent again"),
    "invite_accept": gettext_lazy("Invitation accepted"),
    "reset_second_factor": gettext_lazy("Second factor reset"),
    "unlock": gettext_lazy("Lock-out lifted"),
    "contract": gettext_lazy("Contracted beds changed"),
}
# object_type → the model whose fields its before/after name.
OBJECT_MODELS = {
    "organisation": "providers.Organisation",
    "location": "providers.Location",
    "capacity": "beds.Capacity",
    "user": "accounts.User",
    "region": "providers.Region",
}
OBJECT_TYPE_LABELS = {
    "organisation": gettext_lazy("Organisation"),
    "location": gettext_lazy("Location"),
    "capacity": gettext_lazy("Bed count"),
    "user": gettext_lazy("User"),
    "region": gettext_lazy("Region settings"),
}


def action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


def object_type_label(code: str) -> str:
    return str(OBJECT_TYPE_LABELS.get(code, code))


def _field(object_type: str, name: str):
    model = OBJECT_MODELS.get(object_type)
    if model is None:
        return None
    try:
        return apps.get_model(model)._meta.get_field(name)
    except (FieldDoesNotExist, LookupError):
        return None


def field_label(object_type: str, name: str) -> str:
    """The field's own (translated) name; for a key that is no model field, the key readably."""
    field = _field(object_type, name)
    label = getattr(field, "verbose_name", None) if field is not None else None
    return str(label) if label else name.replace("_", " ")


def field_value(object_type: str, name: str, value) -> str:
    """A before/after value as a person reads it: choices by their label, yes/no, lists joined."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    field = _field(object_type, name)
    choices = dict(field.flatchoices) if field is not None and getattr(field, "choices", None) else {}
    return str(choices.get(value, value))
