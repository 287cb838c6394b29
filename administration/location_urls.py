from django.urls import path

from administration import location_views

urlpatterns = [
    path("<int:pk>/", location_views.location_detail, name="location"),
    path("<int:pk>/deactivate/", location_views.location_deactivate, name="location_deactivate"),
    path("<int:pk>/reactivate/", location_views.location_reactivate, name="location_reactivate"),
    path("<int:pk>/contracts/<int:product_pk>/", location_views.location_contract, name="location_contract"),
]
