from django.urls import path

from cockpit import views

app_name = "cockpit"
urlpatterns = [
    path("", views.board, name="board"),
    path("capacity/", views.capacity, name="capacity"),
    path("kpis/", views.kpis, name="kpis"),
    path("kpis/export/", views.kpi_export, name="kpi_export"),
    path("referrals/export/", views.referral_export, name="referral_export"),
]
