"""The dashboard's arrangement through the API: which panels the caller may see, in their order,
and which they show. The same service as the Add/Edit panels page."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import SIGNED_IN
from accounts.api_access import FirmScopedAPIView
from advisorportal.shell import dashboard_panels  # noqa: F401 - registers the panels
from advisorportal.shell.panels import PlacedPanel, arrange, arrangement


class PanelSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(max_length=40)
    name = serializers.CharField(read_only=True, help_text="The heading people see")
    shown = serializers.BooleanField()


class ArrangementSerializer(serializers.Serializer[Any]):
    panels = PanelSerializer(many=True, help_text="Every panel you may see, top to bottom")


def _out(placed: list[PlacedPanel]) -> dict[str, Any]:
    return {"panels": [{"key": p.panel.key, "name": p.panel.label, "shown": p.shown} for p in placed]}


class DashboardPanelsAPIView(FirmScopedAPIView):
    """Your dashboard's panels, top to bottom. PUT the list in the order you want, each with
    ``shown``; panels you leave out follow in the default order, shown."""

    required_right = SIGNED_IN

    @extend_schema(responses={200: ArrangementSerializer})
    def get(self, request: Request) -> Response:
        return Response(_out(arrangement(request.user)))

    @extend_schema(request=ArrangementSerializer, responses={200: ArrangementSerializer})
    def put(self, request: Request) -> Response:
        body = ArrangementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = body.validated_data["panels"]
        order = [row["key"] for row in rows]
        listed = set(order)
        allowed = [p.panel.key for p in arrangement(request.user)]
        shown = {row["key"] for row in rows if row["shown"]} | {key for key in allowed if key not in listed}
        return Response(_out(arrange(request.user, order=order, shown=shown)))
