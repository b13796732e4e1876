"""REST API of buy-now: an opportunity's links, and the payment processor's webhook."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.ratelimit import hit
from opportunities import services_buynow as services
from opportunities.models import BuyNowLink
from opportunities.payments import SIGNATURE_HEADER, verify_signature


class BuyNowLinkSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    order = serializers.SerializerMethodField()

    class Meta:
        model = BuyNowLink
        fields = [
            "id",
            "url",
            "expires_at",
            "skin",
            "product",
            "amount",
            "currency",
            "status",
            "click_count",
            "first_clicked_at",
            "purchased_at",
            "order",
            "created_at",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return services.link_url(obj, self.context.get("request"))

    def get_status(self, obj) -> str:
        return str(obj.status_at(timezone.now()))

    def get_order(self, obj) -> dict | None:
        order = getattr(obj, "order", None)
        if order is None:
            return None
        return {
            "id": order.pk,
            "buyer_name": order.buyer_name,
            "buyer_email": order.buyer_email,
            "status": order.status,
            "created_at": order.created_at.isoformat(),
        }


class BuyNowLinkCreateSerializer(serializers.Serializer):
    product = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.CharField(max_length=3, min_length=3, required=False)
    expire_days = serializers.IntegerField(
        min_value=1, max_value=365, required=False, allow_null=True
    )


class BuyNowLinksMixin:
    """``GET|POST /api/v1/opportunities/{id}/buy-now-links/`` (mixed into the viewset)."""

    def _buy_now_links(self, request, opportunity):
        if request.method == "POST":
            params = BuyNowLinkCreateSerializer(data=request.data)
            params.is_valid(raise_exception=True)
            link = services.buy_now_link_create(
                actor=request.user, opportunity=opportunity, **params.validated_data
            )
            data = BuyNowLinkSerializer(link, context={"request": request}).data
            return Response(data, status=status.HTTP_201_CREATED)
        links = opportunity.buy_now_links.select_related("order").order_by("-id")
        return Response(BuyNowLinkSerializer(links, many=True, context={"request": request}).data)


class PaymentWebhookSerializer(serializers.Serializer):
    """What a processor posts: ``{"id", "type", "data": {...}}``. Only ``payment.succeeded``
    acts; any other type is acknowledged and ignored."""

    id = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=100)
    data = inline_serializer(
        "PaymentWebhookData",
        {
            "link": serializers.CharField(help_text="The token of the buy-now link's URL."),
            "buyer_name": serializers.CharField(max_length=200),
            "buyer_email": serializers.EmailField(),
            "amount": serializers.DecimalField(max_digits=14, decimal_places=2),
            "currency": serializers.CharField(max_length=3),
            "payment_id": serializers.CharField(max_length=200, required=False, default=""),
        },
        required=False,
    )


class PaymentWebhookView(APIView):
    """A payment processor's confirmation, authenticated by its HMAC-SHA256 signature (see
    ``opportunities.payments``). 200 once per event id; a replayed id is 409; a bad or stale
    signature 400; an unknown link 400."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=PaymentWebhookSerializer,
        parameters=[
            OpenApiParameter(
                "X-Payment-Signature",
                location=OpenApiParameter.HEADER,
                required=True,
                description="t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.' + raw body>",
            )
        ],
        responses={
            200: inline_serializer(
                "PaymentWebhookResult",
                {"status": serializers.CharField(), "order": serializers.IntegerField()},
            )
        },
    )
    def post(self, request):
        if hit(request, "webhook", settings.BUY_NOW_RATE_LIMITS["webhook"]):
            raise exceptions.Throttled(wait=60)
        secret = settings.PAYMENT_WEBHOOK_SECRET
        if not secret:
            raise exceptions.NotFound()
        body = request.body  # the raw bytes: read before anything parses them
        check = verify_signature(
            body,
            request.META.get(SIGNATURE_HEADER, ""),
            secret=secret,
            tolerance=settings.PAYMENT_WEBHOOK_TOLERANCE,
        )
        if not check.ok:
            raise exceptions.ValidationError({"detail": [check.error]})
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise exceptions.ParseError(_("The body is not valid JSON.")) from None
        params = PaymentWebhookSerializer(data=payload)
        params.is_valid(raise_exception=True)
        event = params.validated_data
        with transaction.atomic():
            try:
                record = services.payment_webhook_record(event_id=event["id"], kind=event["type"])
            except services.WebhookReplay:
                return Response(
                    {"detail": _("This event was already received.")},
                    status=status.HTTP_409_CONFLICT,
                )
            if event["type"] != "payment.succeeded":
                return Response({"status": "ignored"})
            data = event.get("data")
            if not data:
                raise exceptions.ValidationError({"data": [_("This field is required.")]})
            link = services.link_from_token(data["link"])
            if link is None:
                raise exceptions.ValidationError({"link": [_("Unknown buy-now link.")]})
            if data["amount"] != link.amount or data["currency"].upper() != link.currency:
                raise exceptions.ValidationError(
                    {"amount": [_("The amount or currency differs from the link's.")]}
                )
            result = services.buy_now_purchase(
                link=link,
                name=data["buyer_name"],
                email=data["buyer_email"],
                provider="webhook",
                paid=True,
                payment_reference=data.get("payment_id", ""),
            )
            record.order = result.order
            record.save(update_fields=["order"])
        return Response({"status": "processed", "order": result.order.pk})
