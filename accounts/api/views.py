"""Accounts for the apps: sign-up, tokens (sign-in, list, revoke), the signed-in user, and the
staff's customer lookup."""

from django.contrib.auth.signals import user_logged_in
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts.api.serializers import (
    CustomerSerializer,
    IssuedTokenSerializer,
    MeSerializer,
    SignupSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from accounts.api.throttling import FailedLoginThrottle
from accounts.models import Customer, User
from accounts.roles import permitted
from accounts.services import customer_account_create
from config.api.views import OrganizationEndpoint


def _issue_token(request: Request, user: User) -> dict:
    instance, token = AuthToken.objects.create(user=user)
    user_logged_in.send(sender=User, request=request._request, user=user)
    return {"token": token, "token_key": instance.token_key, "expires_at": instance.expiry}


class TokenObtainView(APIView):
    """Sign in with email and password; the answer holds a new bearer token for this device."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle, FailedLoginThrottle]

    @extend_schema(request=TokenRequestSerializer, responses={201: IssuedTokenSerializer})
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            if "non_field_errors" in serializer.errors:  # well-formed, but the wrong password
                FailedLoginThrottle.record_failure(request, self)
            raise ValidationError(serializer.errors)
        token = _issue_token(request, serializer.validated_data["user"])
        return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class SignupResponseSerializer(IssuedTokenSerializer):
    user = MeSerializer()


class SignupView(APIView):
    """Create a customer account; the answer signs the new user in on this device."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=SignupSerializer, responses={201: SignupResponseSerializer})
    def post(self, request: Request) -> Response:
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = customer_account_create(**serializer.validated_data)
        body = {**_issue_token(request, user), "user": user}
        return Response(SignupResponseSerializer(body).data, status=status.HTTP_201_CREATED)


class LogoutView(APIView):
    """Revoke the token this request was made with."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(generics.ListAPIView):
    """The signed-in user's tokens that are still valid, newest first."""

    serializer_class = TokenSerializer

    def get_queryset(self):
        return AuthToken.objects.filter(
            Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()), user_id=self.request.user.pk
        ).order_by("-created")


class TokenRevokeView(APIView):
    """Revoke one of the signed-in user's tokens (a lost phone), named by its token_key."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_key: str) -> Response:
        deleted, _ = AuthToken.objects.filter(user=request.user, token_key=token_key).delete()
        if not deleted:
            raise NotFound("You have no token with this key.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(generics.RetrieveAPIView):
    """The signed-in user and the organizations they work for."""

    serializer_class = MeSerializer

    def get_object(self) -> User:
        return self.request.user


class CustomerSearchSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        max_length=100,
        trim_whitespace=False,  # as the schema says: any 1 to 100 characters, spaces too
        help_text="Part of the name, email or phone number.",
    )


class CustomerLookupView(OrganizationEndpoint, generics.ListAPIView):
    """Staff: find a customer of the organization by name, email or phone."""

    serializer_class = CustomerSerializer
    required_permission = "accounts.view_customer"

    @extend_schema(parameters=[CustomerSearchSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = CustomerSearchSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        customers = permitted(
            self.request.user, self.required_permission, Customer.objects.order_by("full_name")
        )
        if search := query.validated_data.get("search"):
            customers = customers.filter(
                Q(full_name__icontains=search)
                | Q(email__icontains=search)
                | Q(phone__icontains=search)
            )
        return customers
