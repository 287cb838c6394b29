import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts import twofactor
from accounts.forms import TokenForm

RECOVERY_SESSION_KEY = "fresh_recovery_codes"


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


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
