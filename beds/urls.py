from django.urls import path

from beds import views

app_name = "beds"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("mine/", views.my_beds, name="my_beds"),
    path("capacity/<int:pk>/", views.capacity_save, name="capacity_save"),
    path("location/<int:pk>/confirm/", views.location_confirm, name="location_confirm"),
]
