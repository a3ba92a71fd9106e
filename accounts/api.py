from __future__ import annotations

from typing import cast

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from accounts.serializers import MeSerializer
from advisorportal.tenancy.access import SIGNED_IN
from advisorportal.tenancy.api import FirmScopedAPIView


class MeView(FirmScopedAPIView):
    """The caller: who they are, which firm, which access rights."""

    required_right = SIGNED_IN

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(cast(User, request.user)).data)
