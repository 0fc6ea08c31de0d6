"""Sign-in pages around Django's auth views: invitations and password reset.

Thin views: the tokens are Django's (password reset) and
tenants.invitations' (invitations); the forms are Django's.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.urls import reverse_lazy

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


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    token_generator = invitation_token_generator
    template_name = "registration/invitation_accept.html"
    success_url = reverse_lazy("invitation-complete")


class InvitationCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/invitation_complete.html"
