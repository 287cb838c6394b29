from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.privacy_search, name="privacy"),
    path("patients/<int:pk>/", views.patient_accesses, name="patient_accesses"),
    path("patients/<int:pk>/export.csv", views.patient_accesses_export, name="patient_accesses_export"),
]
