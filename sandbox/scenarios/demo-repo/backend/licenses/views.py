from rest_framework import viewsets

from .models import License
from .serializers import LicenseSerializer


class LicenseViewSet(viewsets.ReadOnlyModelViewSet):
    """Licences of the organizations the signed-in user belongs to."""

    serializer_class = LicenseSerializer

    def get_queryset(self):
        return (
            License.objects.filter(organization__memberships__user=self.request.user)
            .select_related("organization")
            .prefetch_related("seat_assignments")
        )
