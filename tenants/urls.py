"""Sign-in, two-factor, password reset and invitations: the accounts pages.

Included by the project's URL configuration by name (a string), so the kernel
never imports this app; ``admin/password_reset/`` is here too because Django's
admin shows "Forgotten your password?" on its login page when that name exists
(and it must come before the admin's own URLs, which the project keeps in order).
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from tenants import accounts

urlpatterns = [
    path("admin/password_reset/", accounts.PasswordResetView.as_view(), name="admin_password_reset"),
    path("accounts/login/", accounts.SignInView.as_view(), name="login"),
    path("accounts/two-factor/", accounts.two_factor_view, name="two-factor"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "accounts/invitation/<uidb64>/<token>/",
        accounts.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path("accounts/invitation/done/", accounts.InvitationCompleteView.as_view(), name="invitation-complete"),
]
