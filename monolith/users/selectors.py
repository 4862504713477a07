from monolith.users.models import User


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()
