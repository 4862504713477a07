"""Nothing in Django admin writes a fact or a domain object outside the code that owns it.

Walks the admin site of whichever Django project the test runs in (the monolith by default;
`test_each_extracted_service_admin` runs this same module under each service's settings):
every registered model but the staff accounts is offered no add form, no change form (but
a product's, which saves through its service) and no delete, neither per object nor as the
"Delete selected" action. Actions that call the services (replay, cancel) stay.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

# Staff accounts are administered here; they are not facts nor a context's data.
ACCOUNTS = {"auth.group", "auth.user", "users.user"}
# Changed in admin only through a form whose save calls the service (which publishes).
CHANGED_THROUGH_SERVICES = {"inventory.product"}


@pytest.fixture
def staff(client: Client) -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return client


def guarded_models() -> list[str]:
    labels = sorted(model._meta.label_lower for model in admin.site._registry)
    return [label for label in labels if label not in ACCOUNTS]


def test_the_site_has_facts_and_domain_objects() -> None:
    assert "messaging.outboxmessage" in guarded_models()
    assert "messaging.deadletter" in guarded_models()


def test_no_model_is_addable_or_deletable_and_facts_are_not_changeable(staff: Client) -> None:
    index = staff.get("/admin/")
    assert index.status_code == 200
    perms = {
        f"{app['app_label']}.{model['object_name'].lower()}": model["perms"]
        for app in index.context["app_list"]
        for model in app["models"]
    }
    for label in guarded_models():
        assert perms[label]["view"], label
        assert not perms[label]["add"], label
        assert not perms[label]["delete"], label
        assert perms[label]["change"] == (label in CHANGED_THROUGH_SERVICES), label


@pytest.mark.parametrize("label", guarded_models())
def test_no_add_form_and_no_delete_action(staff: Client, label: str) -> None:
    app_label, model = label.split(".")
    changelist = staff.get(f"/admin/{app_label}/{model}/")
    assert changelist.status_code == 200
    action_form = changelist.context["action_form"]
    actions = [name for name, _ in action_form.fields["action"].choices] if action_form else []
    assert "delete_selected" not in actions
    assert staff.get(f"/admin/{app_label}/{model}/add/").status_code == 403
