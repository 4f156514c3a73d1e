from rest_framework import generics

from .serializers import UserSerializer


class MeView(generics.RetrieveUpdateAPIView):
    """GET/PATCH /api/v1/users/me — the profile of the signed-in user."""

    serializer_class = UserSerializer

    def get_object(self):
        return self.request.user
