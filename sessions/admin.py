"""Assessments, candidates and privacy requests in the scoped admin (tenants.admin.TenantScopedAdmin).

A candidate's page has two privacy buttons for the institution's admins:
**Export data** (a zip of everything held about them, streamed) and **Erase
data** (after a confirmation page). Both call sessions.privacy, the same
services as the REST API, and both are recorded as privacy requests.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods

from proctorme.errors import CandidateSessionRunning
from sessions.models import Assessment, Candidate, MediaChunk, PrivacyRequest, ProctoringSession
from sessions.privacy import archive_response, candidate_erase, candidate_export_write, export_filename
from tenants.admin import ReadOnlyTenantAdmin, TenantScopedAdmin


@admin.register(Assessment)
class AssessmentAdmin(TenantScopedAdmin):
    list_display = [
        "__str__",
        "external_id",
        "institution",
        "duration_seconds",
        "retention_days",
        "archived_at",
    ]
    list_filter = ["institution"]
    search_fields = ["external_id", "title"]
    fields = [
        "institution",
        "external_id",
        "title",
        "duration_seconds",
        "retention_days",
        "detector_settings",
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # sessions point at it; archive it through the API instead


@admin.register(Candidate)
class CandidateAdmin(TenantScopedAdmin):
    list_display = ["__str__", "external_id", "email", "institution", "erased_at", "created_at"]
    list_filter = ["institution"]
    search_fields = ["external_id", "email", "first_name", "last_name"]
    fields = [
        "institution",
        "external_id",
        "email",
        "first_name",
        "last_name",
        "image_url",
        "public_id",
        "erased_at",
        "created_at",
        "privacy",
    ]
    readonly_fields = ["public_id", "erased_at", "created_at", "privacy"]

    def has_delete_permission(self, request, obj=None):
        return False  # a deletion would lose the counts: erase the personal data instead

    @admin.display(description="Privacy requests")
    def privacy(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            '<a class="button" href="{}">Export data</a> <a class="button" href="{}">Erase data…</a>',
            reverse("admin:proctoring_candidate_export", args=[obj.pk]),
            reverse("admin:proctoring_candidate_erase", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/export/", wrap(self.export_view), name="proctoring_candidate_export"),
            path("<path:object_id>/erase/", wrap(self.erase_view), name="proctoring_candidate_erase"),
            *super().get_urls(),
        ]

    def export_view(self, request, object_id):
        candidate = self.get_object(request, object_id)  # another institution's: 404
        handle = candidate_export_write(
            candidate=candidate,
            actor=request.user,
            actor_label=request.user.get_username(),
            via=PrivacyRequest.Via.ADMIN,
        )
        return archive_response(
            handle, request=request, filename=export_filename(candidate), content_type="application/zip"
        )

    @staticmethod
    def _held(candidate: Candidate) -> dict:
        sessions = ProctoringSession.objects.filter(
            institution_id=candidate.institution_id, candidate=candidate
        )
        return {
            "sessions": sessions.count(),
            "media": MediaChunk.objects.filter(
                institution_id=candidate.institution_id, session__in=sessions
            ).count(),
        }

    def erase_view(self, request, object_id):
        return require_http_methods(["GET", "POST"])(self._erase)(request, object_id)

    def _erase(self, request, object_id):
        candidate = self.get_object(request, object_id)
        if request.method == "POST":
            try:
                done = candidate_erase(
                    candidate=candidate,
                    actor=request.user,
                    actor_label=request.user.get_username(),
                    via=PrivacyRequest.Via.ADMIN,
                )
            except CandidateSessionRunning as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return redirect("admin:proctoring_candidate_change", candidate.pk)
            counts = done.counts
            self.message_user(
                request,
                f"Erased: {counts.get('sessions', 0)} session(s), {sum(counts.get('media', {}).values())} "
                f"media file(s), {counts.get('descriptors', 0)} identity descriptor(s). Counts stay.",
                messages.SUCCESS,
            )
            return redirect("admin:proctoring_candidate_change", candidate.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase this candidate's data?",
            "candidate": candidate,
            "held": self._held(candidate),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/proctoring/candidate/erase_confirmation.html", context)


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ReadOnlyTenantAdmin):
    """Every export and erasure: who, when, how and what it counted; no personal data."""

    list_display = ["kind", "via", "candidate_public_id", "actor_label", "institution", "created_at"]
    list_filter = ["kind", "via", "institution"]
    fields = ["kind", "via", "candidate_public_id", "actor_label", "institution", "counts", "created_at"]
