"""Accounts for the apps: sign-up, tokens (sign-in, list, revoke), the signed-in user (profile,
password, email verification, password reset, deletion), and the staff's customer lookup."""

from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import (
    CustomerSerializer,
    EmailVerificationSerializer,
    EmailVerifiedSerializer,
    IssuedTokenSerializer,
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    PasswordConfirmationSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    SignupSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from accounts.api.throttling import (
    AccountEmailThrottle,
    FailedLoginThrottle,
    FailedPasswordCheckThrottle,
)
from accounts.audit import audit_customers_shown
from accounts.models import AuditAction, Customer, User
from accounts.roles import permitted
from accounts.selectors import customer_search
from accounts.services import (
    account_delete,
    account_email_verify,
    account_password_change,
    account_password_reset_confirm,
    account_password_reset_request,
    account_update,
    account_verification_send,
    customer_account_create,
)
from config.api.fields import TextField
from config.api.schema import AutoSchema
from config.api.throttling import AnonRateThrottle
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


class BodyOnDeleteSchema(AutoSchema):
    """Documents the request body of a DELETE too (drf-spectacular leaves it out): deleting an
    account asks for the password."""

    def _get_request_body(self, direction: str = "request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


def _checking_password(request: Request, view: APIView, field: str, call) -> None:
    """Runs a service that checks the current password; a wrong one counts towards the
    failed-password throttle."""
    try:
        call()
    except DjangoValidationError as error:
        if field in getattr(error, "error_dict", {}):
            FailedPasswordCheckThrottle.record_failure(request, view)
        raise


class MeView(APIView):
    """The signed-in user: who they are, where they work (organizations, locations, their own
    resources), their profile to change, and their account to delete."""

    schema = BodyOnDeleteSchema()

    def get_throttles(self):
        if self.request.method == "DELETE":
            return [*super().get_throttles(), FailedPasswordCheckThrottle()]
        return super().get_throttles()

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeUpdateSerializer, responses={200: MeSerializer})
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = account_update(actor=request.user, **serializer.validated_data)
        return Response(MeSerializer(user).data)

    @extend_schema(
        request=PasswordConfirmationSerializer,
        responses={204: None},
        description="Delete the account (GDPR erasure), confirmed with the password. The "
        "person's customer profiles are anonymised (the businesses keep their bookings), every "
        "token is revoked and the email may sign up again. 409 `last_owner` while they are the "
        "only owner of an organization.",
    )
    def delete(self, request: Request) -> Response:
        serializer = PasswordConfirmationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _checking_password(
            request,
            self,
            "password",
            lambda: account_delete(
                actor=request.user, password=serializer.validated_data["password"]
            ),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    """Change the password, giving the current one. Every other token of the user is revoked
    (a password is changed when it may have leaked); this request's token stays valid."""

    throttle_classes = [*APIView.throttle_classes, FailedPasswordCheckThrottle]

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _checking_password(
            request,
            self,
            "current_password",
            lambda: account_password_change(
                actor=request.user, current_token=request.auth, **serializer.validated_data
            ),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetRequestView(APIView):
    """Ask for a password reset link by email. Always 202, whether or not an account has the
    address, so the answer tells no one who has an account; limited per address."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle, AccountEmailThrottle]

    @extend_schema(request=PasswordResetRequestSerializer, responses={202: None})
    def post(self, request: Request) -> Response:
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account_password_reset_request(**serializer.validated_data)
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    """Set a new password with the uid and token of a reset link; every token is revoked (sign
    in again). 400 `invalid_link` if the link was altered, used or expired."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account_password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyView(APIView):
    """Verify the account's email with the token of the link sent at sign-up (no sign-in
    needed: the link may be opened on another device). Bookings made as a guest with this
    address then appear in the account. 400 `invalid_link` if altered or expired."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=EmailVerificationSerializer, responses={200: EmailVerifiedSerializer})
    def post(self, request: Request) -> Response:
        serializer = EmailVerificationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = account_email_verify(**serializer.validated_data)
        return Response(EmailVerifiedSerializer(user).data)


class EmailVerificationResendView(APIView):
    """Send the verification link again (202); nothing is sent if the email is verified."""

    throttle_classes = [*APIView.throttle_classes, AccountEmailThrottle]

    @extend_schema(request=None, responses={202: None})
    def post(self, request: Request) -> Response:
        account_verification_send(actor=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


class CustomerSearchSerializer(serializers.Serializer):
    search = TextField(
        required=False,
        max_length=100,
        trim_whitespace=False,  # as the schema says: any 1 to 100 characters, spaces too
        help_text="Part of the name, a whole email address, or a phone number.",
    )


class CustomerLookupView(OrganizationEndpoint, generics.ListAPIView):
    """Staff: find a customer of the organization by name, email or phone."""

    serializer_class = CustomerSerializer
    required_permission = "accounts.view_customer"

    @extend_schema(parameters=[CustomerSearchSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        response = super().get(request, *args, **kwargs)
        # The customers the answer showed, by id; what was searched for (perhaps an email or
        # a phone number) is not kept.
        audit_customers_shown(
            actor=request.user,
            action=AuditAction.CUSTOMER_LISTED,
            organization_id=request.organization.pk,
            customer_ids=[row["id"] for row in response.data["results"]],
        )
        return response

    def get_queryset(self):
        query = CustomerSearchSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        customers = permitted(
            self.request.user, self.required_permission, Customer.objects.order_by("full_name")
        )
        if search := query.validated_data.get("search"):
            customers = customers.filter(customer_search(search))
        return customers
