from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    # No patient id in any URL: both take the BSN posted (audit/views.py).
    path("", views.privacy_search, name="privacy"),
    path("export/", views.patient_accesses_export, name="patient_accesses_export"),
]
