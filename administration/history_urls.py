from django.urls import path

from administration import history_views

urlpatterns = [
    path("", history_views.history, name="history"),
    path("export.csv", history_views.history_export, name="history_export"),
]
