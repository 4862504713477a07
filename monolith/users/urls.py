from django.urls import path

from monolith.users import apis

app_name = "users"
urlpatterns = [
    path("register/", apis.UserRegisterApi.as_view(), name="register"),
    path("token/", apis.TokenObtainApi.as_view(), name="token"),
    path("token/verify/", apis.TokenVerifyApi.as_view(), name="token-verify"),
    path("token/refresh/", apis.TokenRefreshApi.as_view(), name="token-refresh"),
    path("me/password/", apis.PasswordChangeApi.as_view(), name="password-change"),
    path("me/", apis.UserMeApi.as_view(), name="me"),
]
