from django.urls import path

from beds import api as beds_api

urlpatterns = [
    path("locations/", beds_api.LocationListApi.as_view(), name="api-locations"),
    path("capacities/<int:pk>/", beds_api.CapacityDetailApi.as_view(), name="api-capacity"),
]
