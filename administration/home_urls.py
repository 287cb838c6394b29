from django.urls import path

from administration import home_views

urlpatterns = [
    path("", home_views.index, name="index"),
    path(
        "contact-problems/<int:pk>/handled/",
        home_views.contact_problem_resolve_view,
        name="contact_problem_resolve",
    ),
]
