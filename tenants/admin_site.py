"""The admin site: signed in through the one sign-in page, optionally only with two factors.

``/admin/login/`` sends people to ``/accounts/login/``, so there is one sign-in form
to throttle (django-axes) and to ask for the two-factor code (django-otp). With
``PROCTORME_ADMIN_REQUIRE_2FA=1`` the admin site opens only to sessions verified
by a second factor; a staff member without one is sent to set it up.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode


def _verified(request) -> bool:
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


class ProctormeAdminSite(admin.AdminSite):
    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        return _verified(request) or not settings.PROCTORME_ADMIN_REQUIRE_2FA

    def login(self, request, extra_context=None):
        next_url = request.GET.get("next") or reverse("admin:index")
        user = request.user
        if user.is_active and user.is_staff and not self.has_permission(request):
            from django.contrib.auth import logout

            from tenants.two_factor import two_factor_enabled

            if two_factor_enabled(user=user):
                # A session that never gave its code: sign in again, with the code.
                logout(request)
                return redirect_to_login(next_url, settings.LOGIN_URL)
            # Signed in as staff, but the site wants a second factor this session lacks.
            return redirect(f"{reverse('two-factor')}?{urlencode({'next': next_url})}")
        return redirect_to_login(next_url, settings.LOGIN_URL)
