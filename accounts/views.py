import segno
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts import invitations, services, twofactor
from accounts.client_ip import client_ip
from accounts.forms import InvitationAcceptForm, TokenForm
from elvdesk.errors import DomainError
from elvdesk.next_url import local_next_url

RECOVERY_SESSION_KEY = "fresh_recovery_codes"
INVITATION_TEMPLATE = "accounts/invitation_accept.html"


def _next_url(request) -> str:
    return local_next_url(request) or "/"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request):
    """Enrolment: scan the QR code (or type the secret), confirm with the first code."""
    if twofactor.has_confirmed_totp(request.user) and not request.user.is_verified():
        return redirect("two_factor_verify")
    device = twofactor.pending_totp_device(request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = twofactor.totp_enrol(device=device, token=form.cleaned_data["token"])
        if codes is None:
            form.add_error("token", _("That code is not right. Check the time on your phone and try the newest code."))
        else:
            otp_login(request, device)
            request.session[RECOVERY_SESSION_KEY] = codes
            return redirect(f"{reverse('two_factor_recovery_codes')}?{urlencode({'next': _next_url(request)})}")
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#1c2430")
    context = {
        "form": form,
        "qr_svg": qr_svg,
        "secret": twofactor.totp_secret_base32(device),
        "next": _next_url(request),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    if not twofactor.has_confirmed_totp(request.user):
        return redirect("two_factor_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = twofactor.second_factor_verify(user=request.user, token=form.cleaned_data["token"])
        if device is None:
            form.add_error("token", _("That code is not right, or it was used before."))
        else:
            otp_login(request, device)
            return redirect(_next_url(request))
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _next_url(request)})


@never_cache
@login_required
def recovery_codes(request):
    """Shown once, right after enrolment."""
    codes = request.session.pop(RECOVERY_SESSION_KEY, None)
    if codes is None:
        messages.info(request, _("Recovery codes are shown only once, right after you set up your authenticator."))
        return redirect(_next_url(request))
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next_url(request)})


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    """The link of an invitation e-mail. No login: the signed, one-use token is the authorisation.
    GET only shows the password form (mail scanners open links); the POST sets the password, logs
    the person in and sends them on to enrol their second factor."""
    try:
        invitation = invitations.invitation_for_token(token)
    except DomainError as error:
        return render(request, INVITATION_TEMPLATE, {"error": error.message}, status=error.http_status)
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                token=token,
                password=form.cleaned_data["new_password1"],
                source_address=client_ip(request),
                # The token stays out of the access log, even once it is used up.
                path=request.path.replace(token, "…"),
            )
        except DomainError as error:
            return render(request, INVITATION_TEMPLATE, {"error": error.message}, status=error.http_status)
        except ValidationError as error:
            form.add_error("new_password1", error)
        else:
            login(request, user, backend="accounts.backends.ModelBackendWithOrganisation")
            messages.success(request, _("Your password is set."))
            if twofactor.two_factor_required(user):
                return redirect(f"{reverse('two_factor_setup')}?{urlencode({'next': reverse('home')})}")
            return redirect("home")
    context = {"form": form, "invitee": invitation.user, "two_factor": twofactor.two_factor_required(invitation.user)}
    return render(request, INVITATION_TEMPLATE, context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET"])
def account(request):
    """Who is signed in, for which organisation and role. It is also the benchmark's "signed-in
    floor" (README, Performance): a page with only the base template, so every other page's cost
    is measured against what being signed in costs."""
    return render(request, "accounts/account.html")
