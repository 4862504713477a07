"""Field errors, however deep DRF or a service found them, are keyed by the field's path."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ErrorDetail

from servicekit.errors import field_errors


@pytest.mark.parametrize(
    "raw, flat",
    [
        ({"card_token": ["Required."]}, {"card_token": ["Required."]}),
        (  # a list serializer: one dict per item, empty for the good ones
            {"lines": [{}, {"sku": [ErrorDetail("Unknown.")], "quantity": ["Too big."]}]},
            {"lines.1.sku": ["Unknown."], "lines.1.quantity": ["Too big."]},
        ),
        ({"lines": ["Not a list."]}, {"lines": ["Not a list."]}),
        ({"tags": {0: ["Not a string."]}}, {"tags.0": ["Not a string."]}),  # a ListField
        ({"address": {"non_field_errors": ["Bad."]}}, {"address": ["Bad."]}),
        (["Both or neither."], {"non_field_errors": ["Both or neither."]}),
        ({"lines.0.sku": ["Unknown SKU: X."]}, {"lines.0.sku": ["Unknown SKU: X."]}),
    ],
)
def test_field_errors_are_keyed_by_path(raw: object, flat: dict[str, list[str]]) -> None:
    assert field_errors(raw) == flat
