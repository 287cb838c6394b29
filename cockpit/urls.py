from django.urls import path

from cockpit import monitoring_views, views

app_name = "cockpit"
urlpatterns = [
    path("", views.board, name="board"),
    path("capacity/", views.capacity, name="capacity"),
    path("kpis/", views.kpis, name="kpis"),
    path("kpis/export/", views.kpi_export, name="kpi_export"),
    path("planner/", views.planner, name="planner"),
    path("planner/export/", views.planner_export, name="planner_export"),
    path("monitoring/", monitoring_views.monitoring, name="monitoring"),
    path("monitoring/export/", monitoring_views.monitoring_export, name="monitoring_export"),
    path("referrals/export/", views.referral_export, name="referral_export"),
]
