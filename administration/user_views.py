"""Beheer: the people of the region. The administrator invites, changes, deactivates and
reactivates users, resends invitations, resets second factors and lifts lock-outs; coordinators
read. No page shows a password, TOTP secret or recovery code."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice

from accounts import services
from accounts.client_ip import client_ip
from accounts.models import Role, User
from administration import user_selectors
from administration.access import beheer_view, can_change, region_id_of
from administration.user_forms import UserFilterForm, UserForm
from audit.selectors import changes_of
from elvdesk.errors import DomainError
from providers.models import OrganisationKind

USERS_PER_PAGE = 50
HISTORY_ROWS = 50
USER_FORM_FIELDS = ("first_name", "last_name", "email", "role", "organisation", "language")
# The role an invitation for an organisation of this kind most likely needs.
ROLE_FOR_KIND = {
    OrganisationKind.PROVIDER: Role.PROVIDER_STAFF,
    OrganisationKind.GP_PRACTICE: Role.GP,
    OrganisationKind.HOSPITAL: Role.TRANSFER_NURSE,
    OrganisationKind.DESK: Role.COORDINATOR,
    OrganisationKind.INSURER: Role.ANALYST,
}


def _get_user_for_user(request, pk: int) -> User:
    """A user of the requesting user's region (with states), or 404."""
    users = user_selectors.with_states(
        user_selectors.users_in_region(region_id=region_id_of(request)).select_related("organisation")
    )
    subject = users.filter(pk=pk).first()
    if subject is None:
        raise Http404
    return subject


def _audit_source(request) -> dict:
    return {"source_address": client_ip(request), "path": request.path}


@beheer_view()
def users(request):
    region_id = region_id_of(request)
    organisations = user_selectors.organisations_in_region(region_id=region_id, active_only=False)
    form = UserFilterForm(request.GET, organisations=organisations)
    form.is_valid()  # an invalid filter is shown with its message and not applied
    filters = form.cleaned_data
    rows = user_selectors.user_list(
        region_id=region_id,
        search=filters.get("q") or "",
        organisation=filters.get("organisation"),
        role=filters.get("role") or "",
        status=filters.get("status") or "",
    )
    page = Paginator(rows, USERS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "beheer_section": "users",
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "now": timezone.now(),
        "can_change": can_change(request.user),
    }
    template = "administration/users.html#list" if request.htmx else "administration/users.html"
    return render(request, template, context, status=400 if form.errors else 200)


@beheer_view(methods=("GET", "POST"))
def user_invite(request):
    if not can_change(request.user):  # a form that only changes something: not for readers
        raise PermissionDenied
    region_id = region_id_of(request)
    organisations = user_selectors.organisations_in_region(region_id=region_id)
    if request.method == "POST":
        form = UserForm(request.POST, organisations=organisations)
        if form.is_valid():
            try:
                subject = services.user_invite(by=request.user, **form.cleaned_data, **_audit_source(request))
            except DomainError as error:
                form.add_error(getattr(error, "field", None), error.message)
            else:
                messages.success(request, _("An invitation is on its way to %(email)s.") % {"email": subject.email})
                return redirect("beheer:user_detail", pk=subject.pk)
        return render(request, "administration/user_invite.html", _invite_context(form), status=400)
    initial = {"language": "nl"}
    # "Invite a user for this organisation" on an organisation's page.
    organisation_pk = request.GET.get("organisation", "")
    # isascii: "²" is a digit to isdigit() but no number to the database.
    is_number = organisation_pk.isascii() and organisation_pk.isdigit()
    organisation = organisations.filter(pk=organisation_pk).first() if is_number else None
    if organisation is not None:
        initial.update(organisation=organisation, role=ROLE_FOR_KIND.get(organisation.kind, ""))
    form = UserForm(initial=initial, organisations=organisations)
    return render(request, "administration/user_invite.html", _invite_context(form))


def _invite_context(form) -> dict:
    return {"beheer_section": "users", "form": form}


def _detail(request, subject: User, *, form=None, action_error: str = "", status: int = 200):
    if form is None and can_change(request.user):
        organisations = user_selectors.organisations_in_region(
            region_id=region_id_of(request), include_pk=subject.organisation_id
        )
        initial = {name: getattr(subject, name) for name in USER_FORM_FIELDS}
        form = UserForm(initial=initial, organisations=organisations)
    context = {
        "beheer_section": "users",
        "subject": subject,
        "form": form,
        "action_error": action_error,
        "can_change": can_change(request.user),
        "is_self": subject.pk == request.user.pk,
        "now": timezone.now(),
        "invitation": user_selectors.newest_invitation(subject) if subject.is_invited else None,
        "has_recovery_codes": StaticDevice.objects.filter(user=subject).exists(),
        "changes": changes_of(object_type="user", object_id=subject.pk)[:HISTORY_ROWS],
    }
    return render(request, "administration/user_detail.html", context, status=status)


@beheer_view(methods=("GET", "POST"))
def user_detail(request, pk: int):
    subject = _get_user_for_user(request, pk)
    if request.method == "GET":
        return _detail(request, subject)
    organisations = user_selectors.organisations_in_region(
        region_id=region_id_of(request), include_pk=subject.organisation_id
    )
    form = UserForm(request.POST, organisations=organisations)
    if form.is_valid():
        try:
            services.user_update(user=subject, by=request.user, **form.cleaned_data, **_audit_source(request))
        except DomainError as error:
            form.add_error(getattr(error, "field", None), error.message)
        else:
            messages.success(request, _("The changes are saved."))
            return redirect("beheer:user_detail", pk=subject.pk)
    return _detail(request, subject, form=form, status=400)


def _action(request, pk: int, service, success: str):
    """One button on the user's page: run `service`, then back to the page (POST-redirect-GET);
    a refusal is shown on the page itself."""
    subject = _get_user_for_user(request, pk)
    try:
        service(user=subject, by=request.user, **_audit_source(request))
    except DomainError as error:
        return _detail(request, _get_user_for_user(request, pk), action_error=error.message, status=error.http_status)
    messages.success(request, success % {"name": subject})
    return redirect("beheer:user_detail", pk=subject.pk)


@beheer_view(methods=("POST",))
def user_deactivate(request, pk: int):
    return _action(
        request,
        pk,
        services.user_deactivate,
        _("%(name)s is deactivated: logged out everywhere, API tokens deleted."),
    )


@beheer_view(methods=("POST",))
def user_reactivate(request, pk: int):
    return _action(request, pk, services.user_reactivate, _("%(name)s can log in again."))


@beheer_view(methods=("POST",))
def user_invitation_resend(request, pk: int):
    return _action(
        request,
        pk,
        services.invitation_resend,
        _("A new invitation is on its way to %(name)s; the earlier link no longer works."),
    )


@beheer_view(methods=("POST",))
def user_second_factor_reset(request, pk: int):
    return _action(
        request,
        pk,
        services.user_second_factor_reset,
        _("The second factor of %(name)s is reset. They set up their authenticator again at their next login."),
    )


@beheer_view(methods=("POST",))
def user_lockout_lift(request, pk: int):
    return _action(request, pk, services.user_lockout_lift, _("%(name)s can try to log in again."))
