from django.urls import path

from providers import views

app_name = "providers"
urlpatterns = [
    path("", views.social_map, name="social_map"),
]
