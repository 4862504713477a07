"""The OpenAPI schema of every service (drf-spectacular): the signed bearer token as its
security scheme, and component names that stay unique when serializers are nested in
their API class, as the style guide has them (`UserRegisterApi.InputSerializer` becomes
`UserRegisterInput`, not one `Input` shared by every API)."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class ServiceAutoSchema(AutoSchema):
    def get_serializer_name(
        self, serializer: Any, direction: Literal["request", "response"]
    ) -> str:
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer and "<" not in outer:  # nested in a class, not defined in a function
            return outer.removesuffix("Api") + inner
        return str(super().get_serializer_name(serializer, direction))


class SignedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "servicekit.auth.SignedTokenAuthentication"
    name = "signedToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/users/token/ (signed; valid on every service).",
        }
