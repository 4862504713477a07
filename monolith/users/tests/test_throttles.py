"""The doors anyone may knock on: throttled (429 with Retry-After), and register says
nothing about which accounts exist."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase"


@pytest.fixture(autouse=True)
def behind_the_proxy(settings):
    """The test client's peer (127.0.0.1) plays carve's proxy, as in the local stack."""
    settings.CARVE_TRUSTED_PROXIES = ["127.0.0.1"]


def log_in(anon, username, password, address="10.0.0.1"):
    return anon.post(
        "/api/users/token/",
        {"username": username, "password": password},
        format="json",
        HTTP_X_FORWARDED_FOR=address,
    )


def assert_throttled(response):
    assert response.status_code == 429
    assert response.json()["type"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_guessing_a_password_is_stopped_and_the_right_one_waits_too(anon, make_user):
    make_user(username="victim", password=PASSWORD)
    answers = [log_in(anon, "victim", f"guess-{i}").status_code for i in range(60)]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    assert_throttled(log_in(anon, "victim", PASSWORD))


def test_guessing_from_many_addresses_is_stopped_by_account(anon, make_user):
    make_user(username="victim", password=PASSWORD)
    for i in range(5):
        assert log_in(anon, "VICTIM", "guess", address=f"10.1.0.{i}").status_code == 401
    assert_throttled(log_in(anon, "victim", PASSWORD, address="10.2.0.1"))


def test_guessing_many_accounts_from_one_address_is_stopped_by_address(anon, make_user):
    for i in range(10):
        assert log_in(anon, f"someone{i}", "guess").status_code == 401
    assert_throttled(log_in(anon, "someone-else", "guess"))
    assert log_in(anon, "someone-else", "guess", address="10.0.0.2").status_code == 401


def test_logging_in_right_is_never_slowed_down(anon, make_user):
    make_user(username="regular", password=PASSWORD)
    assert {log_in(anon, "regular", PASSWORD).status_code for _ in range(30)} == {200}


def test_the_address_is_the_one_the_proxy_saw_not_one_the_client_wrote(anon, make_user):
    """The proxy appends its peer to X-Forwarded-For: earlier entries are the client's words."""
    for i in range(10):
        spoofed = f"192.0.2.{i}, 10.0.0.9"
        assert log_in(anon, f"someone{i}", "guess", address=spoofed).status_code == 401
    assert_throttled(log_in(anon, "someone-else", "guess", address="192.0.2.99, 10.0.0.9"))


def test_a_client_that_is_not_a_trusted_proxy_cannot_name_its_address(anon, settings):
    """A service port reached directly: X-Forwarded-For is the client's own words."""
    settings.CARVE_TRUSTED_PROXIES = []
    for i in range(10):
        assert log_in(anon, f"someone{i}", "guess", address=f"192.0.2.{i}").status_code == 401
    assert_throttled(log_in(anon, "someone-else", "guess", address="192.0.2.99"))


def register(anon, username, email, address="10.0.0.1"):
    return anon.post(
        "/api/users/register/",
        {"username": username, "email": email, "password": PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR=address,
    )


def test_registering_is_throttled(anon, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "register", "3/hour")
    for i in range(3):
        assert register(anon, f"new{i}", f"new{i}@example.com").status_code == 201
    assert_throttled(register(anon, "new3", "new3@example.com"))
    assert register(anon, "new4", "new4@example.com", address="10.0.0.2").status_code == 201


def test_refreshing_is_throttled(anon, make_user, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "token_refresh", "2/min")
    make_user(username="refresher", password=PASSWORD)
    refresh = log_in(anon, "refresher", PASSWORD).json()["refresh"]
    for _ in range(2):
        answer = anon.post("/api/users/token/refresh/", {"refresh": refresh}, format="json")
        assert answer.status_code == 200
        refresh = answer.json()["refresh"]
    assert_throttled(anon.post("/api/users/token/refresh/", {"refresh": refresh}, format="json"))


def test_register_does_not_say_whether_a_username_or_email_is_taken(anon, make_user):
    owner = make_user(username="taken", password="the-owners-passphrase")
    free = register(anon, "newcomer", "newcomer@example.com")
    answers = [
        register(anon, "TAKEN", "someone@example.com"),
        register(anon, "someone", "TAKEN@example.com"),
        register(anon, "taken", "taken@example.com"),
    ]
    for answer in answers:
        assert answer.status_code == free.status_code == 201
        assert set(answer.json()) == set(free.json())
        assert answer.json()["detail"] == free.json()["detail"]
    users = get_user_model().objects
    assert users.filter(username="newcomer").exists()
    assert not users.filter(username="someone").exists()
    assert users.count() == 2
    owner.refresh_from_db()
    assert owner.check_password("the-owners-passphrase")
    assert log_in(anon, "taken", PASSWORD).status_code == 401


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.5", "10.9.9.9", [], "203.0.113.5"),
        ("203.0.113.5", "10.9.9.9", ["10.0.0.0/8"], "203.0.113.5"),
        ("10.0.0.2", "192.0.2.1, 198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", "192.0.2.1, 198.51.100.7, 10.0.0.3", ["10.0.0.0/8"], "198.51.100.7"),
        ("::1", "2001:db8::5", ["::1"], "2001:db8::5"),
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "not-an-address", ["10.0.0.0/8"], "not-an-address"),
    ],
)
def test_client_address_believes_x_forwarded_for_only_from_trusted_proxies(
    settings, peer, forwarded, trusted, client
):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from servicekit.throttles import client_address

    settings.CARVE_TRUSTED_PROXIES = trusted
    factory = APIRequestFactory()
    request = Request(factory.get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded))
    assert client_address(request) == client


@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_never_pass_the_limit(make_user):
    """40 wrong passwords at once against a limit of 5: exactly 5 are tried, the rest 429
    (a check-then-write count lets many more through)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from rest_framework.test import APIClient

    make_user(username="victim", password=PASSWORD)
    start = threading.Barrier(40)

    def guess(i: int) -> int:
        try:
            client = APIClient()
            start.wait(timeout=30)
            return log_in(client, "victim", f"guess-{i}", address=f"10.3.0.{i}").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(guess, range(40)))
    assert sorted(answers) == [401] * 5 + [429] * 35
    assert log_in(APIClient(), "victim", PASSWORD, address="10.4.0.1").status_code == 429
