"""Beheer: one namespace, one URL module per area (each area's views and forms beside it)."""

from django.urls import include, path

app_name = "beheer"
urlpatterns = [
    path("", include("administration.home_urls")),
    path("organisations/", include("administration.organisation_urls")),
    path("locations/", include("administration.location_urls")),
    path("users/", include("administration.user_urls")),
    path("region/", include("administration.region_urls")),
    path("history/", include("administration.history_urls")),
]
