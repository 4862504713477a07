from proxy.tests.conftest import Fake, ProxyFactory


async def test_a_request_nobody_routes_goes_to_the_monolith(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory
) -> None:
    proxy = await make_proxy(*trio)
    response = await proxy.client.get("/api/orders/")
    assert response.status == 200
    assert (await response.json())["upstream"] == "monolith"
