from monolith.orders.tests.sagabus import saga_bus

__all__ = ["saga_bus"]
