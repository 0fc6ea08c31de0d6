"""Finding 6: one institution's retention setting cannot stop another's data deletion."""

import pytest
from django.core.exceptions import ValidationError

from sessions.models import MediaChunk
from sessions.services import media_purge_expired
from tenants.models import Institution
from tests.widget.test_housekeeping import _ended_session


def test_finding6_a_huge_retention_elsewhere_does_not_stop_the_purge(tenant_a, tenant_b):
    # Written past the validators (as an old row or raw SQL would be): 2^31 - 1 days.
    Institution.objects.filter(pk=tenant_b.institution.pk).update(retention_days=2**31 - 1)
    tenant_a.institution.retention_days = 30
    tenant_a.institution.save()
    _ended_session(tenant_b, ended_days_ago=100)
    _ended_session(tenant_a, ended_days_ago=100)
    assert media_purge_expired() == 1
    assert list(MediaChunk.objects.values_list("institution_id", flat=True)) == [tenant_b.institution.pk]


@pytest.mark.parametrize("days", [0, 3651, 2**31 - 1])
def test_finding6_retention_outside_1_to_3650_days_is_refused_where_it_is_written(tenant_a, days):
    tenant_a.institution.retention_days = days
    with pytest.raises(ValidationError) as caught:
        tenant_a.institution.full_clean()
    assert "retention_days" in caught.value.message_dict
