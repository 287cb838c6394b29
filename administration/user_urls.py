from django.urls import path

from administration import user_views

urlpatterns = [
    path("", user_views.users, name="users"),
]
