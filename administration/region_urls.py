from django.urls import path

from administration import region_views

urlpatterns = [
    path("", region_views.region, name="region"),
]
