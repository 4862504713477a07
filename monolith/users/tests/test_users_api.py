import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_register_then_log_in_then_me(anon):
    created = anon.post(
        "/api/users/register/",
        {"username": "ada", "email": "Ada@Example.com", "password": "a-long-passphrase"},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["email"] == "ada@example.com"

    login = anon.post(
        "/api/users/token/", {"username": "ada", "password": "a-long-passphrase"}, format="json"
    )
    assert login.status_code == 200
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['token']}")
    me = anon.get("/api/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "ada"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "x@example.com", "password": "a-long-passphrase"}, "username"),
        ({"username": "x", "email": "not-an-email", "password": "a-long-passphrase"}, "email"),
        ({"username": "x", "email": "x@example.com", "password": "123"}, "password"),
        (
            {"username": "bad name!", "email": "x@example.com", "password": "a-long-pass"},
            "username",
        ),
        (
            {"username": ["x"], "email": "x@example.com", "password": "a-long-passphrase"},
            "username",
        ),
    ],
)
def test_register_rejects_bad_input_with_field_errors(anon, body, field):
    response = anon.post("/api/users/register/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"type", "detail", "errors"}  # one shape, no `code`
    assert response.json()["type"] == "validation_error"
    assert field in response.json()["errors"]
    assert not get_user_model().objects.exists()


def test_wrong_password_is_401(anon, make_user):
    make_user(username="bob", password="right-password")
    response = anon.post(
        "/api/users/token/", {"username": "bob", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["type"] == "authentication_failed"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer a b",
        "Bearer not-a-token",
        "Bearer eyJ1aWQiOjF9:abc:def",
        "Basic Zm9vOmJhcg==",
    ],
)
def test_bad_credentials_are_401_never_500(anon, header):
    anon.credentials(HTTP_AUTHORIZATION=header)
    response = anon.get("/api/users/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
