from django.urls import path

from referrals import klikmoment_views, views

app_name = "referrals"
urlpatterns = [
    path("", views.referral_index, name="index"),
    path("new/", views.referral_new, name="new"),
    path("new/advice/", views.referral_advice, name="advice"),
    path("<int:pk>/", views.referral_detail, name="detail"),
    path("<int:pk>/step/", views.referral_step, name="step"),
    path("<int:pk>/offers/", views.offer_send, name="offer_send"),
    path("<int:pk>/neighbours/", views.neighbour_beds, name="neighbour_beds"),
    path("<int:pk>/admission/", views.stay_admit, name="admit"),
    path("<int:pk>/no-show/", views.offer_no_show, name="no_show"),
    path("<int:pk>/discharge/", views.stay_discharge, name="discharge"),
    path("<int:pk>/product-change/", views.stay_product_change, name="stay_product_change"),
    path("offers/<int:pk>/accept/", views.offer_accept, name="offer_accept"),
    path("offers/<int:pk>/decline/", views.offer_decline, name="offer_decline"),
    path("offers/<int:pk>/stop/", views.offer_stop, name="offer_stop"),
    path("notifications/", views.notification_list, name="notifications"),
    path("escalations/", views.escalation_index, name="escalations"),
    path("klikmoment/", klikmoment_views.klikmoment, name="klikmoment"),
]
