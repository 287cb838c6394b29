from django.urls import path

from administration import location_views, organisation_views

urlpatterns = [
    path("", organisation_views.organisations, name="organisations"),
    path("new/", organisation_views.organisation_create, name="organisation_create"),
    path("<int:pk>/", organisation_views.organisation_detail, name="organisation"),
    path("<int:pk>/deactivate/", organisation_views.organisation_deactivate, name="organisation_deactivate"),
    path("<int:pk>/reactivate/", organisation_views.organisation_reactivate, name="organisation_reactivate"),
    # A location is added under its organisation; its own pages are in location_urls.
    path("<int:pk>/locations/new/", location_views.location_create, name="location_create"),
]
