from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.api import inventory as api
from messaging.ownership import waits_for_handover
from monolith.inventory import selectors, services
from servicekit.errors import NotFound
from servicekit.pagination import StandardPagination


class ProductListApi(APIView):
    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "GET" else [IsAdminUser()]

    InputSerializer = api.ProductInput

    @extend_schema(
        parameters=[OpenApiParameter("search", str, description="Part of a name or SKU")],
        responses={200: api.ProductOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        products = selectors.product_list(search=request.query_params.get("search", "")[:100])
        paginator = StandardPagination()
        page = paginator.paginate_queryset(products, request, view=self)
        return paginator.get_paginated_response(api.ProductOutput(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: api.ProductOutput})
    @waits_for_handover("inventory")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.product_create(**data.validated_data)
        product = selectors.product_get(sku=created.sku)
        return Response(api.ProductOutput(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: api.ProductOutput})
    def get(self, request: Request, sku: str) -> Response:
        product = selectors.product_get(sku=sku)
        if product is None:
            raise NotFound(f"No product with SKU {sku}.")
        return Response(api.ProductOutput(product).data)


class StockAdjustApi(APIView):
    permission_classes = [IsAdminUser]

    InputSerializer = api.StockAdjustInput

    @extend_schema(request=InputSerializer, responses={200: api.ProductOutput})
    @waits_for_handover("inventory")
    def post(self, request: Request, sku: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.stock_adjust(sku=sku, delta=data.validated_data["delta"])
        return Response(api.ProductOutput(selectors.product_get(sku=sku)).data)


class ReservationListApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter("order_id", str)],
        responses={200: api.ReservationOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        order_id = api.order_id_param(request.query_params.get("order_id"))
        paginator = StandardPagination()
        page = paginator.paginate_queryset(
            selectors.reservation_list(order_id=order_id), request, view=self
        )
        return paginator.get_paginated_response(api.ReservationOutput(page, many=True).data)


class ReservationDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: api.ReservationOutput})
    def get(self, request: Request, order_id: UUID) -> Response:
        reservation = selectors.reservation_get(order_id=order_id)
        if reservation is None:
            raise NotFound(f"No reservation for order {order_id}.")
        return Response(api.ReservationOutput(reservation).data)
