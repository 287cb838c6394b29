from django.shortcuts import render

from administration.access import beheer_view


@beheer_view()
def history(request):
    return render(request, "administration/index.html", {"beheer_section": "history"})
