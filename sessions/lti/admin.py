"""LMS registrations and the tool's keys in the scoped admin (tenants.admin.TenantScopedAdmin)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from sessions.lti.dynamic import dynamic_registration_url
from sessions.lti.keys import tool_key_rotate
from sessions.lti.models import LtiAttempt, LtiCourseAccess, LtiRegistration, LtiServiceCall, LtiToolKey
from sessions.lti.registrations import FIELDS as REGISTRATION_FIELDS
from sessions.lti.registrations import lti_tool_urls
from tenants.admin import ReadOnlyInline, ReadOnlyTenantAdmin, TenantScopedAdmin, admin_institutions

URL_LABELS = {
    "loginUrl": "OIDC login initiation URL",
    "launchUrl": "Target link / launch URL",
    "redirectUrl": "Redirect URL",
    "jwksUrl": "Public keyset (JWKS) URL",
    "deepLinkingUrl": "Deep linking URL",
}


def tool_urls_html(institution) -> str:
    urls = lti_tool_urls(institution=institution, base_url=settings.SITE_URL)
    rows = format_html_join(
        "", "<tr><th>{}</th><td><code>{}</code></td></tr>", ((URL_LABELS[k], v) for k, v in urls.items())
    )
    return format_html("<table>{}</table>", rows)


@admin.register(LtiRegistration)
class LtiRegistrationAdmin(TenantScopedAdmin):
    list_display = ["name", "issuer", "client_id", "institution", "is_active", "created_at"]
    list_filter = ["is_active", "institution"]
    fields = ["institution", *REGISTRATION_FIELDS, "is_active", "tool_urls"]
    readonly_fields = ["tool_urls"]

    @admin.display(description="Enter these in the LMS")
    def tool_urls(self, obj):
        if obj is None or not obj.institution_id:
            return "Shown above; saved registrations show their institution's URLs here."
        return tool_urls_html(obj.institution)

    def add_view(self, request, form_url="", extra_context=None):
        # The LMS asks for our URLs before it issues the client id this form needs.
        if request.method == "GET":
            institutions = admin_institutions(request) if not request.user.is_superuser else []
            for institution in institutions:
                messages.info(
                    request,
                    format_html("Tool URLs for {}: {}", institution.name, tool_urls_html(institution)),
                )
                link = dynamic_registration_url(institution=institution, base_url=settings.SITE_URL)
                messages.info(
                    request,
                    format_html(
                        "Or, where the LMS offers LTI Dynamic Registration, give it this link "
                        "(valid 7 days; it registers an LMS for {}): <code>{}</code>",
                        institution.name,
                        link,
                    ),
                )
        return super().add_view(request, form_url, extra_context)


@admin.register(LtiToolKey)
class LtiToolKeyAdmin(ReadOnlyTenantAdmin):
    """Read-only; "Rotate" makes a new signing key, the old one stays published for the grace period."""

    list_display = ["kid", "institution", "created_at", "retired_at"]
    list_filter = ["institution"]
    fields = ["kid", "institution", "created_at", "retired_at", "public_jwk"]
    readonly_fields = fields
    actions = ["rotate"]

    @admin.action(description="Rotate: new signing key for these keys' institutions")
    def rotate(self, request, queryset):
        institutions = {key.institution for key in queryset}
        for institution in institutions:
            if self._allowed(request, queryset.filter(institution=institution).first()):
                tool_key_rotate(institution=institution)
        messages.success(request, f"Rotated the signing key of {len(institutions)} institution(s).")


class LtiServiceCallInline(ReadOnlyInline):
    model = LtiServiceCall
    fields = ["created_at", "service", "action", "status_code", "succeeded", "error"]


@admin.register(LtiAttempt)
class LtiAttemptAdmin(ReadOnlyTenantAdmin):
    """Read-only: which LMS attempt each proctoring session belongs to, and the calls made for it."""

    list_display = ["user_sub", "resource_link_id", "attempt_number", "registration", "status", "created_at"]
    list_filter = ["status", "institution"]
    fields = [
        "registration",
        "session",
        "status",
        "user_sub",
        "context_id",
        "resource_link_id",
        "attempt_number",
        "acs_url",
        "acs_actions",
        "ags_lineitems_url",
        "ags_lineitem_url",
        "created_at",
        "assessment_started_at",
        "ended_at",
    ]
    readonly_fields = fields
    inlines = [LtiServiceCallInline]


@admin.register(LtiCourseAccess)
class LtiCourseAccessAdmin(ReadOnlyTenantAdmin):
    """Which LMS instructors see which course's sessions on the dashboard. Made by their launches;
    deleting one takes the course away until the LMS launches them as its instructor again."""

    list_display = ["user", "context_title", "context_id", "registration", "last_launch_at"]
    list_filter = ["institution"]
    search_fields = ["context_title", "context_id", "user__username", "user__email"]
    fields = [
        "user",
        "registration",
        "context_id",
        "context_title",
        "roles",
        "first_launch_at",
        "last_launch_at",
    ]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return TenantScopedAdmin.has_delete_permission(self, request, obj)
