from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema_field
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from accounts.models import Customer, Role, User
from accounts.selectors import account_workplaces
from config.api.fields import RequestBody, TextField


class TokenRequestSerializer(RequestBody):
    email = serializers.EmailField()
    password = TextField(style={"input_type": "password"}, max_length=128)

    def validate(self, attrs: dict) -> dict:
        user = authenticate(
            self.context["request"], username=attrs["email"], password=attrs["password"]
        )
        if user is None:
            raise serializers.ValidationError(
                "No active account with this email and password.", code="invalid_credentials"
            )
        attrs["user"] = user
        return attrs


class SignupSerializer(RequestBody):
    email = serializers.EmailField()
    password = TextField(style={"input_type": "password"}, max_length=128)
    full_name = TextField(max_length=150)


class IssuedTokenSerializer(serializers.Serializer):
    """A new token; it is shown once and only its first characters (`token_key`) later."""

    token = serializers.CharField()
    token_key = serializers.CharField(help_text="Names the token in the list and to revoke it.")
    expires_at = serializers.DateTimeField(allow_null=True)


class TokenSerializer(serializers.Serializer):
    token_key = serializers.CharField()
    created_at = serializers.DateTimeField(source="created")
    expires_at = serializers.DateTimeField(source="expiry", allow_null=True)
    current = serializers.SerializerMethodField(help_text="The token of this very request.")

    def get_current(self, token) -> bool:
        return token.digest == getattr(self.context["request"].auth, "digest", None)


class WorkplaceLocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MembershipSummarySerializer(serializers.Serializer):
    organization = serializers.SlugField(source="organization_slug")
    organization_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    locations = WorkplaceLocationSerializer(
        many=True, help_text="Where they work: all of the organization's unless limited."
    )
    resource_ids = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Their own bookable time (resources of kind staff), for its schedule.",
    )


class MeSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(help_text="In international format (+358...), or empty.")
    memberships = serializers.SerializerMethodField(
        help_text="Where the user works, as what, at which locations, on which resources."
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "email_verified_at",
            "full_name",
            "phone",
            "date_joined",
            "memberships",
        ]

    @extend_schema_field(MembershipSummarySerializer(many=True))
    def get_memberships(self, user: User) -> list[dict]:
        return MembershipSummarySerializer(account_workplaces(user), many=True).data


class MeUpdateSerializer(RequestBody):
    full_name = TextField(max_length=150, required=False)
    phone = PhoneNumberField(
        required=False,
        allow_blank=True,
        help_text="With its country code, or a local number of PHONENUMBER_DEFAULT_REGION; "
        "empty to remove it.",
    )


class PasswordChangeSerializer(RequestBody):
    current_password = TextField(style={"input_type": "password"}, max_length=128)
    new_password = TextField(style={"input_type": "password"}, max_length=128)


class PasswordConfirmationSerializer(RequestBody):
    password = TextField(
        style={"input_type": "password"}, max_length=128, help_text="The current password."
    )


class PasswordResetRequestSerializer(RequestBody):
    email = serializers.EmailField()


class PasswordResetConfirmSerializer(RequestBody):
    uid = TextField(max_length=64, help_text="From the link: /accounts/reset/<uid>/…")
    token = TextField(max_length=128, help_text="From the link: …/<token>/")
    new_password = TextField(style={"input_type": "password"}, max_length=128)


class EmailVerificationSerializer(RequestBody):
    token = TextField(max_length=512, help_text="From the link: /accounts/verify-email/<token>/")


class EmailVerifiedSerializer(serializers.Serializer):
    email = serializers.EmailField()
    email_verified_at = serializers.DateTimeField()


class CustomerSerializer(serializers.ModelSerializer):
    phone = serializers.CharField()

    class Meta:
        model = Customer
        fields = ["id", "full_name", "email", "phone", "created_at"]
