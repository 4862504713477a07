"""The OpenAPI schema of every service (drf-spectacular): the signed bearer token as its
security scheme, the one error body (servicekit.errors) on every operation's 4xx, and
component names that stay unique when serializers are nested in
their API class, as the style guide has them (`UserRegisterApi.InputSerializer` becomes
`UserRegisterInput`, not one `Input` shared by every API)."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class Error(serializers.Serializer):
    """Every error answer of every service (servicekit.errors)."""

    type = serializers.CharField(
        help_text="validation_error, parse_error, not_authenticated, authentication_failed, "
        "permission_denied, not_found, conflict, ..."
    )
    detail = serializers.CharField(help_text="What went wrong, for people.")
    # A field named like Serializer.errors: DRF's metaclass moves it out of the class body.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="validation_error only: the messages of each wrong field, the field named "
        "by its path in the request body (lines.0.sku); non_field_errors for the whole body.",
    )
    code = serializers.CharField(
        required=False, help_text="conflict (409) only: which one (insufficient_stock, ...)."
    )


BODY_METHODS = {"POST", "PUT", "PATCH"}


class ServiceAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        codes = ["400"] if self.method in BODY_METHODS else []
        if self.get_auth():
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(Error, code))
        return responses

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
