import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from monolith.inventory.models import Product, Stock

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_sized_by_options(capsys):
    call_command("seed", users=3, products=4, stock=7)
    call_command("seed", users=3, products=4, stock=99)
    assert "0 users and 0 products created" in capsys.readouterr().out
    users = get_user_model().objects
    assert users.filter(username__startswith="user").count() == 3
    assert users.get(username="admin").is_superuser
    assert Product.objects.count() == 4
    assert set(Stock.objects.values_list("on_hand", flat=True)) == {7}


def test_seed_grows_to_a_bigger_size(capsys):
    call_command("seed", users=2, products=2)
    call_command("seed", users=5, products=3)
    assert "3 users and 1 products created" in capsys.readouterr().out


def test_seeded_users_can_log_in(anon):
    call_command("seed", users=1, products=0)
    response = anon.post(
        "/api/users/token/", {"username": "user0001", "password": "carve-demo"}, format="json"
    )
    assert response.status_code == 200


def test_seed_refuses_negative_sizes():
    with pytest.raises(SystemExit):
        call_command("seed", users=-1)
