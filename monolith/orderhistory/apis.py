from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monolith.orderhistory import selectors
from monolith.orderhistory.models import OrderHistory
from servicekit.auth import caller_id
from servicekit.pagination import StandardPagination


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)


class OrderHistoryLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = _money()


class OrderHistoryOutputSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    status = serializers.CharField()
    cancel_reason = serializers.CharField()
    total = _money()
    currency = serializers.CharField()
    lines = OrderHistoryLineSerializer(many=True)
    line_count = serializers.IntegerField()
    payment_id = serializers.UUIDField(allow_null=True)
    payment_status = serializers.CharField(
        help_text="requested, captured, declined, failed, partially_refunded, refunded; "
        "empty before a charge is heard of"
    )
    refunded_amount = _money()
    stock_state = serializers.CharField(
        help_text="active, committed, released, returned, rejected; empty before inventory "
        "has answered"
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OrderHistoryPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderHistoryOutputSerializer(many=True)


class OrderHistoryListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=OrderHistory.Status.values),
            OpenApiParameter("page", int, description="1-based page number"),
            OpenApiParameter(
                "page_size",
                int,
                description=f"rows per page (default {StandardPagination.page_size}, "
                f"at most {StandardPagination.max_page_size})",
            ),
        ],
        responses={200: OrderHistoryPageSerializer},
        description="The caller's orders with their payment and stock state, newest first. "
        "A read model fed by events: it may lag a write by a moment.",
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in OrderHistory.Status.values:
            raise serializers.ValidationError(
                {"status": [f"Use one of {', '.join(OrderHistory.Status.values)}."]}
            )
        rows = selectors.order_history_list(user_id=caller_id(request), status=wanted)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(OrderHistoryOutputSerializer(page, many=True).data)
