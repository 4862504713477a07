from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.api import payments as api
from messaging.ownership import waits_for_handover
from monolith.payments import selectors, services
from servicekit.auth import caller_id
from servicekit.errors import NotFound
from servicekit.pagination import StandardPagination


class ChargeListApi(APIView):
    InputSerializer = api.ChargeInput

    @extend_schema(responses={200: api.ChargeOutput(many=True)})
    def get(self, request: Request) -> Response:
        paginator = StandardPagination()
        page = paginator.paginate_queryset(
            selectors.charge_list(user_id=caller_id(request)), request, view=self
        )
        return paginator.get_paginated_response(api.ChargeOutput(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                api.IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Retrying with the same key returns the first result; charged once.",
            )
        ],
        responses={201: api.ChargeOutput},
        description="The charge is created whatever the card's answer: read `status` "
        "(captured, declined or failed) and `failure_reason`.",
    )
    @waits_for_handover("payments")
    def post(self, request: Request) -> Response:
        key = api.idempotency_key(request.headers)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        headers = {}
        if key is None:
            charge = services.charge_create(user_id=caller_id(request), **data.validated_data)
        else:
            charge, replayed = services.charge_create_idempotent(
                user_id=caller_id(request),
                idempotency_key=services.caller_key(key),
                **data.validated_data,
            )
            headers["Idempotent-Replayed"] = "true" if replayed else "false"
        return Response(
            api.ChargeOutput(selectors.charge_get(charge_id=charge.id)).data,
            status=status.HTTP_201_CREATED,
            headers=headers,
        )


class ChargeDetailApi(APIView):
    @extend_schema(responses={200: api.ChargeOutput})
    def get(self, request: Request, charge_id: UUID) -> Response:
        charge = selectors.charge_get(charge_id=charge_id, user_id=caller_id(request))
        if charge is None:
            raise NotFound(f"No charge {charge_id}.")
        return Response(api.ChargeOutput(charge).data)


class ChargeRefundApi(APIView):
    InputSerializer = api.RefundInput

    @extend_schema(
        request=InputSerializer,
        responses={201: api.RefundOutput},
        description="A charge that pays an order is refunded by cancelling the order: "
        "refunding it here answers 409 `charge_pays_order`.",
    )
    @waits_for_handover("payments")
    def post(self, request: Request, charge_id: UUID) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = services.refund_request(
            charge_id=charge_id, user_id=caller_id(request), **data.validated_data
        )
        return Response(api.RefundOutput(refund).data, status=status.HTTP_201_CREATED)
