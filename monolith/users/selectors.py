from monolith.users.models import User
from servicekit.tokens import TokenClaims
from servicekit.useraccess import access_reason


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()


def token_access_reason(*, claims: TokenClaims) -> str | None:
    """Why a token with `claims` may no longer be used, from the users table itself (the
    truth every service's copy follows); None when it still may."""
    user = User.objects.filter(pk=claims.user_id).values("token_version", "is_active").first()
    if user is None:
        return access_reason(claims=claims, token_version=0, is_active=False, deleted=True)
    return access_reason(
        claims=claims,
        token_version=user["token_version"],
        is_active=user["is_active"],
        deleted=False,
    )
