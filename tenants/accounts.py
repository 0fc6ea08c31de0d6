"""Sign-in pages around Django's auth views: sign-in with an optional second factor,
invitations, password reset, and turning two-factor login on and off.

Thin views: the tokens are Django's (password reset) and
tenants.invitations' (invitations); the forms are Django's.
"""

from __future__ import annotations

import base64

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import login as otp_login

from tenants import two_factor
from tenants.forms import SignInForm, TotpCodeForm
from tenants.invitations import invitation_token_generator
from tenants.selectors import users_for_password_reset


class MemberPasswordResetForm(PasswordResetForm):
    """Django's form, which also reaches members who never accepted their invitation.

    Django skips accounts without a usable password; an invited member who lost
    the invitation e-mail has exactly such an account, and a reset link is how
    they get in.
    """

    def get_users(self, email):
        return users_for_password_reset(email=email)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = MemberPasswordResetForm


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        # Whoever could open the e-mailed link owns the account: lift a sign-in lockout.
        axes_reset(username=self.user.get_username())
        return response


class InvitationAcceptView(PasswordResetConfirmView):
    token_generator = invitation_token_generator
    template_name = "registration/invitation_accept.html"
    success_url = reverse_lazy("invitation-complete")


class InvitationCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/invitation_complete.html"


class SignInView(auth_views.LoginView):
    authentication_form = SignInForm


@login_required
def two_factor_view(request):
    """Turn two-factor login on (scan, confirm with a code) or off (with a current code)."""
    enabled = two_factor.two_factor_enabled(user=request.user)
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        if enabled:
            if two_factor.totp_device_remove(user=request.user, token=token):
                messages.success(request, _("Two-factor login is off."))
                return redirect("two-factor")
        else:
            device = two_factor.totp_device_confirm(user=request.user, token=token)
            if device is not None:
                otp_login(request, device)  # this session counts as verified from now on
                messages.success(request, _("Two-factor login is on."))
                return redirect(_safe_next(request) or "two-factor")
        form.add_error("token", _("That code is not right. Enter the current code from your app."))
    context = {"form": form, "enabled": enabled, "next": _safe_next(request), "nav": "two-factor"}
    if not enabled:
        device = two_factor.totp_device_pending(user=request.user)
        context.update(
            qr_svg=two_factor.totp_qr_svg(device=device),
            secret=base64.b32encode(device.bin_key).decode(),
        )
    status = 400 if form.errors else 200
    return render(request, "registration/two_factor.html", context, status=status)


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


def locked_out(request, response, credentials):
    """django-axes' answer to a locked-out sign-in (AXES_LOCKOUT_CALLABLE): 429 and a page."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)
