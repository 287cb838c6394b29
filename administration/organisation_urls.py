from django.urls import path

from administration import organisation_views

urlpatterns = [
    path("", organisation_views.organisations, name="organisations"),
]
