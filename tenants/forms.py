from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django_otp import user_has_device
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_totp.models import TOTPDevice


class SignInForm(OTPAuthenticationFormMixin, AuthenticationForm):
    """Django's sign-in form plus a two-factor code, required only from users who turned it on."""

    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(required=False)
    otp_challenge = forms.CharField(required=False)
    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": _("Enter the 6-digit code from your authenticator app."),
        "invalid_token": _("That code is not right. Enter the current code from your authenticator app."),
    }

    def _chosen_device(self, user):
        # One authenticator per account here (tenants.two_factor): no device picker.
        return TOTPDevice.objects.filter(user=user, confirmed=True).first()

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and user_has_device(user, confirmed=True):
            self.clean_otp(user)
        return cleaned


class TotpCodeForm(forms.Form):
    token = forms.CharField(
        label=_("Code from the app"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
