"""Browsing the catalogue, and staff keeping it."""

from __future__ import annotations

from parity.scenarios import scenario
from parity.session import Session

PRODUCTS = "/api/inventory/products/"
PRODUCT = "/api/inventory/products/{sku}/"
STOCK = "/api/inventory/products/{sku}/stock/"
# SKU-0001..SKU-0009: products no scenario orders, so their stock is the same in every run.
UNTOUCHED = {"search": "SKU-000"}


@scenario()
def browse_the_catalogue(s: Session) -> None:
    """Anyone lists, searches, pages through and opens products; staff add one and change
    its stock; shoppers and strangers may not."""
    s.get("list products", PRODUCTS, query={**UNTOUCHED, "page_size": 3})
    s.get("the next page", PRODUCTS, query={**UNTOUCHED, "page_size": 3, "page": 2})
    s.get("the last page", PRODUCTS, query={**UNTOUCHED, "page_size": 3, "page": 3})
    s.get("a page past the end", PRODUCTS, query={**UNTOUCHED, "page": 99})
    s.get("a page size over the cap", PRODUCTS, query={**UNTOUCHED, "page_size": 500})
    s.get("search with no match", PRODUCTS, query={"search": "no-such-thing-anywhere"})
    s.get("open a product", PRODUCT, sku="SKU-0001")
    s.get("open a product that does not exist", PRODUCT, sku="NO-SUCH-SKU")

    shopper = s.shopper("shopper")
    sku = s.sku("lamp")
    body = {"sku": sku, "name": "Parity lamp", "price": "12.50", "currency": "EUR", "on_hand": 3}
    s.post("staff add a product", PRODUCTS, s.staff, json=body)
    s.post("staff add it again", PRODUCTS, s.staff, json=body)
    s.post(
        "staff add a product with a bad price",
        PRODUCTS,
        s.staff,
        json={**body, "sku": s.sku("bad"), "price": "-1"},
    )
    s.post("a shopper adds a product", PRODUCTS, shopper, json={**body, "sku": s.sku("no")})
    s.post("a stranger adds a product", PRODUCTS, json={**body, "sku": s.sku("no")})
    s.get("open the new product", PRODUCT, sku=sku)
    s.get("find the new product", PRODUCTS, query={"search": sku})
    s.post("staff receive stock", STOCK, s.staff, json={"delta": 5}, sku=sku)
    s.post("staff write off more than there is", STOCK, s.staff, json={"delta": -50}, sku=sku)
    s.post("staff adjust by nothing", STOCK, s.staff, json={"delta": 0}, sku=sku)
    s.post(
        "staff adjust a product that does not exist",
        STOCK,
        s.staff,
        json={"delta": 1},
        sku="NO-SUCH-SKU",
    )
    s.post("a shopper adjusts stock", STOCK, shopper, json={"delta": 1}, sku=sku)
    s.get("the new product after the changes", PRODUCT, sku=sku)
    s.call("delete the new product", "DELETE", PRODUCT, s.staff, sku=sku)
    s.get("reservations by a malformed order id", "/api/inventory/reservations/", s.staff,
          query={"order_id": "not-a-uuid"})  # fmt: skip
    s.get("an inventory path that does not exist", "/api/inventory/nothing/", s.staff)
