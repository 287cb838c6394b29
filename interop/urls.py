"""/fhir/r4/: the FHIR R4 server (see interop/fhir/views.py).

Types whose instances the authorization matrix (tests/security) can address by a numeric object
have a search route and an instance route; the others one route with an optional id. Paths
that match nothing answer with an OperationOutcome through handler404 (elvdesk/api_errors.py).
"""

from django.urls import path, re_path

from interop.fhir import views

app_name = "fhir"

FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="metadata"),
    re_path(rf"^CodeSystem(?:/(?P<pk>{FHIR_ID}))?$", views.CodeSystemView.as_view(), name="codesystem"),
    re_path(r"^Organization(?:/(?P<pk>[0-9]{1,18}))?$", views.OrganizationView.as_view(), name="organization"),
    path("Location", views.LocationView.as_view(), name="location-search"),
    path("Location/<int:pk>", views.LocationView.as_view(), name="location"),
    path("HealthcareService", views.HealthcareServiceView.as_view(), name="healthcareservice-search"),
    path("HealthcareService/<int:pk>", views.HealthcareServiceView.as_view(), name="healthcareservice"),
    re_path(rf"^MeasureReport(?:/(?P<pk>{FHIR_ID}))?$", views.MeasureReportView.as_view(), name="measurereport"),
    path("ServiceRequest", views.ServiceRequestCreateView.as_view(), name="servicerequest-create"),
    path("ServiceRequest/<int:pk>", views.ServiceRequestReadView.as_view(), name="servicerequest"),
    path("Task", views.TaskView.as_view(), name="task-search"),
    path("Task/<int:pk>", views.TaskView.as_view(), name="task"),
]
