def csp_nonce(request):
    """The per-response CSP nonce under the name django-htmx's {% htmx_script %} looks for.
    Reading it also puts it into the Content-Security-Policy header."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
