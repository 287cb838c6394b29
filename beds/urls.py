from django.urls import path

from beds import job_views, views

app_name = "beds"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("mine/", views.my_beds, name="my_beds"),
    path("capacity/<int:pk>/", views.capacity_save, name="capacity_save"),
    path("location/<int:pk>/confirm/", views.location_confirm, name="location_confirm"),
    path("overviews/", job_views.overview_snapshots, name="overview_snapshots"),
    path("overviews/<int:pk>/", job_views.overview_snapshot, name="overview_snapshot"),
    path("overviews/<int:pk>/csv/", job_views.overview_snapshot_csv, name="overview_snapshot_csv"),
    path("overviews/subscription/", job_views.overview_subscription, name="overview_subscription"),
    path("still-correct/<str:token>/", job_views.reminder_confirm, name="reminder_confirm"),
]
