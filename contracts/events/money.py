"""Types shared by event schemas."""

from decimal import Decimal
from typing import Annotated

from pydantic import Field

Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, ge=0)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Sku = Annotated[str, Field(min_length=1, max_length=64)]
