from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from elvdesk import views
from elvdesk.admin_site import developers_only

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("account/", account_views.account, name="account"),
    path("beds/", include("beds.urls")),
    path("referrals/", include("referrals.urls")),
    path("cockpit/", include("cockpit.urls")),
    path("privacy/", include("audit.urls")),
    path("beheer/", include("administration.urls")),
    path("social-map/", include("providers.urls")),
    path("api/v1/", include("elvdesk.api_urls")),
    path("fhir/r4/", include("interop.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", developers_only(admin.site).urls),
]

# Unmatched /api/ paths and unexpected errors answer in the API's JSON error shape there
# (elvdesk/api_errors.py).
handler404 = "elvdesk.api_errors.page_not_found"
handler500 = "elvdesk.api_errors.server_error"
