"""/fhir/r4/: the FHIR R4 server (see interop/fhir/views.py). Paths that match nothing answer
with an OperationOutcome through handler404 (elvdesk/api_errors.py)."""

from django.urls import path

from interop.fhir import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="metadata"),
    path("CodeSystem", views.CodeSystemView.as_view(), name="codesystem-search"),
    path("CodeSystem/<slug:pk>", views.CodeSystemView.as_view(), name="codesystem"),
    path("Organization", views.OrganizationView.as_view(), name="organization-search"),
    path("Organization/<int:pk>", views.OrganizationView.as_view(), name="organization"),
    path("Location", views.LocationView.as_view(), name="location-search"),
    path("Location/<int:pk>", views.LocationView.as_view(), name="location"),
    path("HealthcareService", views.HealthcareServiceView.as_view(), name="healthcareservice-search"),
    path("HealthcareService/<int:pk>", views.HealthcareServiceView.as_view(), name="healthcareservice"),
    path("MeasureReport", views.MeasureReportView.as_view(), name="measurereport-search"),
    path("MeasureReport/<slug:pk>", views.MeasureReportView.as_view(), name="measurereport"),
    path("ServiceRequest", views.ServiceRequestCreateView.as_view(), name="servicerequest-create"),
    path("ServiceRequest/<int:pk>", views.ServiceRequestReadView.as_view(), name="servicerequest"),
    path("Task", views.TaskView.as_view(), name="task-search"),
    path("Task/<int:pk>", views.TaskView.as_view(), name="task"),
]
