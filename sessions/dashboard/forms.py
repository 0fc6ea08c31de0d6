from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sessions.accommodations import DETECTORS
from sessions.dashboard.selectors import BANDS, FLAG_TYPES, SORTS, SessionFilters
from sessions.dashboard.services import NOTES_MAX, REASON_MAX
from sessions.models import ProctoringSession

PAGE_SIZES = (25, 50, 100)
VERDICT_FILTERS = [
    ("", _("Any verdict")),
    ("pending", _("Waiting for review")),
    ("none", _("Not reviewed")),
    *[(v, label) for v, label in ProctoringSession.Verdict.choices if v],
]


class SessionFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    assessment = forms.TypedChoiceField(required=False, label=_("Assessment"), empty_value=None)
    status = forms.ChoiceField(
        required=False, label=_("Status"), choices=[("", _("Any status")), *ProctoringSession.Status.choices]
    )
    band = forms.ChoiceField(required=False, label=_("Risk"), choices=[("", _("Any risk")), *BANDS.items()])
    verdict = forms.ChoiceField(required=False, label=_("Verdict"), choices=VERDICT_FILTERS)
    flag_type = forms.ChoiceField(
        required=False, label=_("Flag type"), choices=[("", _("Any flag")), *[(t, t) for t in FLAG_TYPES]]
    )
    date_from = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        required=False, label=_("Sort"), choices=[(k, v[0]) for k, v in SORTS.items()], initial="-started_at"
    )
    per_page = forms.TypedChoiceField(
        required=False, label=_("Per page"), coerce=int, choices=[(n, n) for n in PAGE_SIZES], empty_value=25
    )

    def __init__(self, *args, assessments: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assessment"].choices = [("", _("Any assessment")), *assessments]

    def filters(self) -> SessionFilters:
        """The valid part of the query; an invalid field is ignored (and shown as an error)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return SessionFilters(
            assessment=data.get("assessment") or None,
            status=data.get("status") or "",
            band=data.get("band") or "",
            verdict=data.get("verdict") or "",
            flag_type=data.get("flag_type") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            q=data.get("q") or "",
            sort=data.get("sort") or "-started_at",
        )

    @property
    def active_count(self) -> int:
        data = getattr(self, "cleaned_data", {})
        keys = ("q", "assessment", "status", "band", "verdict", "flag_type", "date_from", "date_to")
        return sum(1 for k in keys if data.get(k))


class VerdictForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=[(v, label) for v, label in ProctoringSession.Verdict.choices if v], widget=forms.RadioSelect
    )
    notes = forms.CharField(
        required=False,
        max_length=NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("What you saw, for the record")}),
    )


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=forms.TextInput(attrs={"placeholder": "Why is this a false positive?"}),
    )


class SwitchForm(forms.Form):
    institution = forms.UUIDField()
    next = forms.CharField(required=False, max_length=500)


# --- live intervention (sessions.intervention) ------------------------------------------------


class InterventionMessageForm(forms.Form):
    text = forms.CharField(
        max_length=1000, label=_("Message to the candidate"), widget=forms.Textarea(attrs={"rows": 3})
    )


class InterventionPauseForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, label=_("Reason shown to the candidate"))


class InterventionTerminateForm(forms.Form):
    reason = forms.CharField(max_length=500, label=_("Why the attempt is terminated"))


class InterventionExtendForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=360, label=_("Extra minutes"))


# --- accommodations (admins; sessions.accommodations) ------------------------------------------


class AccommodationForm(forms.Form):
    candidate = forms.ChoiceField(label=_("Candidate"))
    assessment = forms.ChoiceField(label=_("Assessment"), required=False)
    extra_minutes = forms.IntegerField(label=_("Extra minutes"), min_value=0, max_value=24 * 60, initial=0)
    time_multiplier = forms.DecimalField(
        label=_("Time multiplier"), min_value=1, max_value=4, max_digits=4, decimal_places=2, initial="1.00"
    )
    disabled_detectors = forms.MultipleChoiceField(
        label=_("Detectors switched off"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(d, d) for d in DETECTORS],
    )
    note = forms.CharField(
        label=_("Note for reviewers"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, candidates, assessments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["candidate"].choices = [("", "—")] + [
            (str(c.public_id), f"{c} ({c.external_id})") for c in candidates
        ]
        self.fields["assessment"].choices = [("", _("Every assessment"))] + [
            (str(a.public_id), str(a)) for a in assessments
        ]
