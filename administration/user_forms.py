"""Forms of the Beheer pages about users. They only clean; the rules (which role fits which
organisation, an address in use, an administrator's own account) are accounts/services.py's."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from administration.user_selectors import STATUS_CHOICES


class OrganisationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, organisation):
        return f"{organisation.name} ({organisation.get_kind_display()})"


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    organisation = OrganisationChoiceField(
        label=_("Organisation"), queryset=None, required=False, empty_label=_("All organisations")
    )
    role = forms.ChoiceField(label=_("Role"), required=False, choices=[("", _("All roles")), *Role.choices])
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All statuses")), *STATUS_CHOICES])

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations


class UserForm(forms.Form):
    """Invite a user, or change one."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=150,
        help_text=_("The person logs in with this address and receives the invitation on it."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    organisation = OrganisationChoiceField(label=_("Organisation"), queryset=None)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=User._meta.get_field("language").choices,
        initial="nl",
        help_text=_("For the e-mails the person receives."),
    )

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
