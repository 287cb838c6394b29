from django.urls import path

from administration import home_views

urlpatterns = [
    path("", home_views.index, name="index"),
]
