from django.shortcuts import render

from administration.access import beheer_view


@beheer_view()
def index(request):
    return render(request, "administration/index.html", {})
