from django.urls import path

from beds import api as beds_api
from cockpit import api as cockpit_api
from elvdesk.api_root import ApiRootApi
from interop import api as interop_api
from referrals import api as referrals_api

urlpatterns = [
    path("", ApiRootApi.as_view(), name="api-root"),
    path("locations/", beds_api.LocationListApi.as_view(), name="api-locations"),
    path("capacities/<int:pk>/", beds_api.CapacityDetailApi.as_view(), name="api-capacity"),
    path("capacity-bulk/", interop_api.CapacityBulkApi.as_view(), name="api-capacity-bulk"),
    path("referrals/", referrals_api.ReferralListCreateApi.as_view(), name="api-referrals"),
    path("referrals/<int:pk>/", referrals_api.ReferralDetailApi.as_view(), name="api-referral"),
    path(
        "referrals/<int:pk>/transitions/", referrals_api.ReferralTransitionApi.as_view(), name="api-referral-transition"
    ),
    path("referrals/<int:pk>/matches/", referrals_api.ReferralMatchesApi.as_view(), name="api-referral-matches"),
    path("referrals/<int:pk>/offers/", referrals_api.ReferralOfferCreateApi.as_view(), name="api-referral-offers"),
    path("referrals/<int:pk>/admission/", referrals_api.ReferralAdmissionApi.as_view(), name="api-referral-admission"),
    path("referrals/<int:pk>/no-show/", referrals_api.ReferralNoShowApi.as_view(), name="api-referral-no-show"),
    path("referrals/<int:pk>/discharge/", referrals_api.ReferralDischargeApi.as_view(), name="api-referral-discharge"),
    path(
        "referrals/<int:pk>/product-change/",
        referrals_api.ReferralProductChangeApi.as_view(),
        name="api-referral-product-change",
    ),
    path("offers/", referrals_api.OfferListApi.as_view(), name="api-offers"),
    path("offers/<int:pk>/accept/", referrals_api.OfferAcceptApi.as_view(), name="api-offer-accept"),
    path("offers/<int:pk>/decline/", referrals_api.OfferDeclineApi.as_view(), name="api-offer-decline"),
    path("planner/", cockpit_api.PlannerApi.as_view(), name="api-planner"),
]
