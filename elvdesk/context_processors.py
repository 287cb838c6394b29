from providers.phones import tel_uri


def csp_nonce(request):
    """The per-response CSP nonce under the name django-htmx's {% htmx_script %} looks for.
    Reading it also puts it into the Content-Security-Policy header."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}


def desk_phone(request):
    """The regional desk's phone number for the bar under the header ("Regioloket: 045 …, 24/7"),
    for every signed-in user whose region has one: referrers above all call it when a placement
    gets stuck. The user comes with their organisation and region (accounts/backends.py), so
    this costs no query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.organisation_id is None:
        return {}
    phone = user.organisation.region.desk_phone
    if not phone:
        return {}
    return {"desk_phone": phone, "desk_phone_uri": tel_uri(phone)}
