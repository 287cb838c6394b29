from django.urls import path

from administration import history_views

urlpatterns = [
    path("", history_views.history, name="history"),
]
