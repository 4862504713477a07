from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monolith.users import selectors, services
from servicekit.auth import KEYWORD, bearer_token, caller_id, verified_claims
from servicekit.errors import NotFound
from servicekit.throttles import (
    LoginFailuresByAccount,
    LoginFailuresByAddress,
    ScopedByAddress,
    failures_counted,
)
from servicekit.tokens import ACCESS, REFRESH, lifetime


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()


class UserRegisterApi(APIView):
    """Register. The answer never says whether the username or the email was taken (that
    would let anyone find out who has an account): it is the same 201 either way, and if
    either was taken nothing is created, so logging in with them fails. Bad input (a
    malformed email, a weak password) is a 400 with field errors as usual."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedByAddress]
    throttle_scope = "register"

    class InputSerializer(serializers.Serializer):
        username = serializers.RegexField(
            r"^[\w.@+-]+\Z",
            max_length=150,
            error_messages={"invalid": "Letters, digits and @/./+/-/_ only."},
        )
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        email = serializers.EmailField()
        detail = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration = services.user_register(**data.validated_data)
        body = {
            "username": registration.username,
            "email": registration.email,
            "detail": "Unless this username or email was already in use, the account exists "
            "now: log in with it.",
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


TOKEN_OUTPUT = inline_serializer(
    "TokenOutput",
    {
        "token": serializers.CharField(help_text="The access token (same as `access`)."),
        "access": serializers.CharField(),
        "refresh": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
        "refresh_expires_in": serializers.IntegerField(),
    },
)


def token_response(pair: services.TokenPair) -> Response:
    return Response(
        {
            "token": pair.access,
            "access": pair.access,
            "refresh": pair.refresh,
            "token_type": "Bearer",
            "expires_in": lifetime(ACCESS),
            "refresh_expires_in": lifetime(REFRESH),
        }
    )


class TokenObtainApi(APIView):
    """Log in. Wrong passwords are counted by address and by account: past the limit every
    attempt, the right one included, is a 429 until the window has passed."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginFailuresByAddress, LoginFailuresByAccount]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: TOKEN_OUTPUT})
    def post(self, request: Request) -> Response:
        with failures_counted(request, services.InvalidCredentials):
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            pair = services.token_obtain(**data.validated_data)
        return token_response(pair)


class TokenRefreshApi(APIView):
    """A new access and refresh token for a refresh token (refused once the user's access
    changed: password, active or staff state). A refresh token is good for one refresh:
    reusing a spent one revokes every token of its user."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedByAddress]
    throttle_scope = "token_refresh"

    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    @extend_schema(request=InputSerializer, responses={200: TOKEN_OUTPUT})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return token_response(services.token_refresh(**data.validated_data))


class PasswordChangeApi(APIView):
    """Change your password: every token issued before is refused on every service from
    then on; the answer carries a new pair."""

    class InputSerializer(serializers.Serializer):
        old_password = serializers.CharField(max_length=128, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: TOKEN_OUTPUT})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.user_password_change(user_id=caller_id(request), **data.validated_data)
        return token_response(pair)


class UserMeApi(APIView):
    @extend_schema(responses={200: UserOutputSerializer})
    def get(self, request: Request) -> Response:
        user = selectors.user_get(user_id=caller_id(request))
        if user is None:
            raise NotFound("The account of this token no longer exists.")
        return Response(UserOutputSerializer(user).data)


class TokenVerifyApi(APIView):
    """Whether the access token in the Authorization header still stands: 200, or 401 with
    the reason, judged by the users table itself, never by a copy of it. What a service
    asks while its own copy of user access is stale (servicekit.identitycheck); it tells
    nobody anything about a token they do not hold."""

    permission_classes = [AllowAny]
    authentication_classes: list = []  # the token is judged here, by the users table

    def get_authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="carve"'  # a 401, not a 403, for a token refused

    @extend_schema(
        responses={
            200: inline_serializer(
                "TokenVerifyOutput",
                {
                    "user_id": serializers.IntegerField(),
                    "token_version": serializers.IntegerField(),
                },
            )
        }
    )
    def get(self, request: Request) -> Response:
        token = bearer_token(request)
        if token is None:
            raise exceptions.NotAuthenticated()
        claims = verified_claims(token)
        reason = selectors.token_access_reason(claims=claims)
        if reason is not None:
            raise exceptions.AuthenticationFailed(reason)
        return Response({"user_id": claims.user_id, "token_version": claims.version})
