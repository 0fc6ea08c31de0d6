"""Django admin, scoped to the signed-in user's institutions.

The platform operator (superuser) sees everything. An institution admin (a
staff user with an ``admin`` Membership) sees and edits only the rows of the
institutions they administer: querysets, object lookups and foreign-key
choices are all filtered, and another institution's object answers 404 (not
the "does not exist" redirect, which would still confirm the id). Reviewers
have no business here: they get no admin module at all.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.template.response import TemplateResponse

from tenants import services
from tenants.models import (
    ApiKey,
    Domain,
    Institution,
    Membership,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.selectors import institutions_for_user

admin.site.site_header = "Proctorme administration"
admin.site.site_title = "Proctorme"


def admin_institutions(request):
    cache = getattr(request, "_proctorme_admin_institutions", None)
    if cache is None:
        cache = list(institutions_for_user(user=request.user, role=Membership.Role.ADMIN))
        request._proctorme_admin_institutions = cache
    return cache


class ScopedInstitutionFilter(admin.RelatedFieldListFilter):
    """The institution filter of the sidebar, offering only the user's own institutions.

    Django's RelatedFieldListFilter lists every row of the related table, so an
    institution admin would read every other institution's name there.
    """

    def field_choices(self, field, request, model_admin):
        choices = super().field_choices(field, request, model_admin)
        if request.user.is_superuser:
            return choices
        mine = {i.pk for i in admin_institutions(request)}
        return [(pk, label) for pk, label in choices if pk in mine]


class TenantScopedAdmin(admin.ModelAdmin):
    """Base for every tenant-owned model; ``institution_path`` leads to its Institution."""

    institution_path = "institution"

    def get_list_filter(self, request):
        """Every filter on an institution is the scoped one (and hidden for a single institution)."""
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and self._points_at_institution(entry):
                if request.user.is_superuser or len(admin_institutions(request)) > 1:
                    filters.append((entry, ScopedInstitutionFilter))
                continue
            filters.append(entry)
        return filters

    def _points_at_institution(self, path: str) -> bool:
        model = self.model
        field = None
        for part in path.split("__"):
            field = model._meta.get_field(part)
            model = getattr(field, "related_model", None)
            if model is None:
                return False
        return model is Institution

    def _allowed(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        institutions = admin_institutions(request)
        if not institutions:
            return False
        if obj is None:
            return True
        return self._institution_of(obj) in institutions

    def _institution_of(self, obj):
        for part in self.institution_path.split("__"):
            obj = getattr(obj, part)
        return obj

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.institution_path}__in": admin_institutions(request)})

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Institution and not request.user.is_superuser:
            kwargs["queryset"] = Institution.objects.filter(
                pk__in=[i.pk for i in admin_institutions(request)]
            )
            if len(admin_institutions(request)) == 1:
                kwargs["initial"] = admin_institutions(request)[0].pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Form choices are scoped already; this guards against a forged POST.
        if not self._allowed(request, obj):
            raise Http404("No such institution.")
        super().save_model(request, obj, form, change)


def _shown_once(request, *, title: str, label: str, value: str, back_url: str, note: str):
    return TemplateResponse(
        request,
        "admin/tenants/shown_once.html",
        {
            **admin.site.each_context(request),
            "title": title,
            "label": label,
            "value": value,
            "back_url": back_url,
            "note": note,
        },
    )


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ["host", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Institution)
class InstitutionAdmin(TenantScopedAdmin):
    institution_path = "pk"
    list_display = ["name", "slug", "public_id", "retention_days", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [DomainInline]

    def _institution_of(self, obj):
        return obj

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=[i.pk for i in admin_institutions(request)])

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "slug", "max_domains"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Domain)
class DomainAdmin(TenantScopedAdmin):
    list_display = ["host", "institution", "created_at"]
    list_filter = ["institution"]
    search_fields = ["host"]


KEY_KIND_NOTES = {
    ApiKey.Kind.PUBLISHABLE: "It goes into your exam pages and works only from your registered domains.",
    ApiKey.Kind.SECRET: (
        "Warning: this key opens the whole REST API of your institution. Keep it on your servers; "
        "never paste it into a web page or into an LMS plugin setting that ends up in the "
        "candidate's page (use an attempt-signing key there)."
    ),
    ApiKey.Kind.SIGNING: (
        "It signs attempt ids (AutoProctor's hashedTestAttemptId) and opens nothing else: no REST "
        "API, no reports. Paste it where an LMS plugin asks for its client secret."
    ),
}


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["institution", "kind", "name", "expires_at"]
        help_texts = {"kind": " ".join(f"{kind.label}: {note}" for kind, note in KEY_KIND_NOTES.items())}


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = [
        "prefix",
        "kind",
        "name",
        "institution",
        "status",
        "created_at",
        "last_used_at",
        "expires_at",
    ]
    list_filter = ["kind", "institution"]
    search_fields = ["prefix", "name"]
    actions = ["revoke"]
    readonly_fields = [
        "institution",
        "kind",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    fields = [
        "institution",
        "kind",
        "name",
        "prefix",
        "expires_at",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]

    @admin.display(description="Status")
    def status(self, obj):
        if obj.revoked_at:
            return "revoked"
        return "active" if obj.is_active else "expired"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
            kwargs["fields"] = ApiKeyAddForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return self.fields if obj else ApiKeyAddForm.Meta.fields

    def has_delete_permission(self, request, obj=None):
        # Keys are revoked, not deleted, so the audit trail keeps them.
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        if not self._allowed(request, obj):
            raise Http404("No such institution.")
        key, plaintext = services.api_key_create(
            institution=obj.institution,
            kind=obj.kind,
            name=obj.name,
            expires_at=obj.expires_at,
            created_by=request.user,
        )
        obj.pk, obj.prefix = key.pk, key.prefix
        request._proctorme_new_key = plaintext

    def response_add(self, request, obj, post_url_continue=None):
        plaintext = getattr(request, "_proctorme_new_key", None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        return _shown_once(
            request,
            title="API key created",
            label=f"Your new {obj.get_kind_display().split(' (')[0].lower()} key",
            value=plaintext,
            back_url="../",
            note="Copy it now: it is stored hashed and will never be shown again. "
            + KEY_KIND_NOTES.get(obj.kind, ""),
        )

    @admin.action(description="Revoke selected keys (takes effect at once)")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


class MembershipAddForm(forms.ModelForm):
    email = forms.EmailField(help_text="The person's e-mail address; an account is created if needed.")

    class Meta:
        model = Membership
        fields = ["institution", "email", "role"]


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "role", "institution", "account", "created_at"]
    list_filter = ["role", "institution"]
    search_fields = ["user__email", "user__username"]
    actions = ["resend_invitation"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MembershipAddForm
            kwargs["fields"] = ["institution", "role"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["institution", "email", "role"] if obj is None else ["role"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        if not self._allowed(request, obj):
            raise Http404("No such institution.")
        membership = services.membership_add(
            institution=obj.institution,
            email=form.cleaned_data["email"],
            role=obj.role,
            invited_by=request.user,
        )
        obj.pk, obj.user = membership.pk, membership.user
        if not membership.user.has_usable_password():
            self.message_user(request, f"Invitation e-mailed to {membership.user.email}.", messages.SUCCESS)

    @admin.display(description="Account")
    def account(self, obj):
        return "active" if obj.user.has_usable_password() else "invited (no password yet)"

    @admin.action(description="Send the invitation again (to members without a password)")
    def resend_invitation(self, request, queryset):
        sent = 0
        for membership in queryset.select_related("user", "institution"):
            if not membership.user.has_usable_password():
                services.membership_invite(membership=membership, invited_by=request.user)
                sent += 1
        self.message_user(request, f"Sent {sent} invitation(s).", messages.SUCCESS)


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ["institution", "url", "description", "events", "body_format", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "body_format" in self.fields:
            self.fields["body_format"].required = False

    def clean_body_format(self):
        return self.cleaned_data.get("body_format") or WebhookEndpoint.BodyFormat.PROCTORME

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            services.webhook_url_check(url=url)
        except services.WebhookUrlNotAllowed as error:
            raise forms.ValidationError(error.message) from None
        return url


class ReadOnlyInline(admin.TabularInline):
    """A log shown under its parent: nothing added, changed or deleted by hand."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["number", "requested_at", "status_code", "response_ms", "succeeded", "error"]


class ReadOnlyTenantAdmin(TenantScopedAdmin):
    """A log: seen by those it belongs to, never added, changed or deleted by hand."""

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyTenantAdmin):
    """The delivery log: read-only, scoped like every other tenant row."""

    list_display = [
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    readonly_fields = [
        "endpoint",
        "event",
        "status",
        "attempt_count",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "payload",
    ]
    fields = readonly_fields
    inlines = [WebhookAttemptInline]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "institution", "is_active", "consecutive_failures", "disabled_at"]
    list_filter = ["is_active", "institution"]
    readonly_fields = ["secret_prefix", "consecutive_failures", "disabled_at", "disabled_reason"]

    def get_readonly_fields(self, request, obj=None):
        # An endpoint stays with the institution it was made for (its deliveries and secret are theirs).
        return [*self.readonly_fields, "institution"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # The API's write path: the same URL check, and re-enabling resets the failure count.
        if not self._allowed(request, obj):
            raise Http404("No such institution.")
        if change:
            services.webhook_endpoint_update(
                endpoint=WebhookEndpoint.objects.get(pk=obj.pk),
                url=obj.url,
                description=obj.description,
                events=obj.events,
                is_active=obj.is_active,
                body_format=obj.body_format,
            )
            obj.refresh_from_db()
            return
        endpoint, secret = services.webhook_endpoint_create(
            institution=obj.institution,
            url=obj.url,
            description=obj.description,
            events=obj.events,
            body_format=obj.body_format,
        )
        obj.pk = endpoint.pk
        request._proctorme_new_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_proctorme_new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return _shown_once(
            request,
            title="Webhook endpoint created",
            label="Signing secret",
            value=secret,
            back_url="../",
            note="Use it to verify the Proctorme-Signature header of every delivery. Copy it now.",
        )
