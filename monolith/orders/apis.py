from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.api.fields import MoneyField
from monolith.orders import selectors, services
from monolith.orders.models import Order
from servicekit.auth import caller_id
from servicekit.errors import NotFound
from servicekit.pagination import StandardPagination

MAX_LINES = 50
MAX_QUANTITY = 1000


class OrderLineOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = MoneyField()
    line_total = MoneyField()


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    cancel_reason = serializers.CharField()
    total = MoneyField()
    currency = serializers.CharField()
    payment_id = serializers.UUIDField(allow_null=True)
    lines = OrderLineOutputSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OrderListApi(APIView):
    class InputSerializer(serializers.Serializer):
        class LineSerializer(serializers.Serializer):
            sku = serializers.CharField(max_length=64)
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

        lines = LineSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]
        card_token = serializers.CharField(max_length=64)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Order.Status.values)],
        responses={200: OrderOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in Order.Status.values:
            raise serializers.ValidationError(
                {"status": [f"Use one of {', '.join(Order.Status.values)}."]}
            )
        orders = selectors.order_list(user_id=caller_id(request), status=wanted)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderOutputSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: OrderOutputSerializer},
        description="Places the order. It comes back `confirmed`, `cancelled` (see "
        "`cancel_reason`) or, when fulfilment runs in extracted services, `pending`: poll it.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_place(
            user_id=caller_id(request),
            lines=[services.OrderLineRequest(**line) for line in data.validated_data["lines"]],
            card_token=data.validated_data["card_token"],
        )
        placed = selectors.order_get(order_id=order.id)
        return Response(OrderOutputSerializer(placed).data, status=status.HTTP_201_CREATED)


class OrderDetailApi(APIView):
    @extend_schema(responses={200: OrderOutputSerializer})
    def get(self, request: Request, order_id: UUID) -> Response:
        order = selectors.order_get(order_id=order_id, user_id=caller_id(request))
        if order is None:
            raise NotFound(f"No order {order_id}.")
        return Response(OrderOutputSerializer(order).data)


class OrderCancelApi(APIView):
    @extend_schema(request=None, responses={200: OrderOutputSerializer})
    def post(self, request: Request, order_id: UUID) -> Response:
        order = services.order_cancel(user_id=caller_id(request), order_id=order_id)
        return Response(OrderOutputSerializer(selectors.order_get(order_id=order.id)).data)
