from django.urls import path

from administration import user_views

urlpatterns = [
    path("", user_views.users, name="users"),
    path("invite/", user_views.user_invite, name="user_invite"),
    path("<int:pk>/", user_views.user_detail, name="user_detail"),
    path("<int:pk>/deactivate/", user_views.user_deactivate, name="user_deactivate"),
    path("<int:pk>/reactivate/", user_views.user_reactivate, name="user_reactivate"),
    path("<int:pk>/invitation/", user_views.user_invitation_resend, name="user_invitation_resend"),
    path("<int:pk>/second-factor/reset/", user_views.user_second_factor_reset, name="user_second_factor_reset"),
    path("<int:pk>/lockout/lift/", user_views.user_lockout_lift, name="user_lockout_lift"),
]
