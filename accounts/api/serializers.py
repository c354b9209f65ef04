from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Customer, Organization, User
from accounts.roles import grants_of


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"}, max_length=128)

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


class SignupSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"}, max_length=128)
    full_name = serializers.CharField(max_length=150)


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


class MembershipSummarySerializer(serializers.Serializer):
    organization = serializers.SlugField()
    role = serializers.CharField()


class MeSerializer(serializers.ModelSerializer):
    memberships = serializers.SerializerMethodField(help_text="Where the user works, and as what.")

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "date_joined", "memberships"]

    @extend_schema_field(MembershipSummarySerializer(many=True))
    def get_memberships(self, user: User) -> list[dict]:
        grants = grants_of(user)
        slugs = dict(Organization.objects.filter(pk__in=grants).values_list("pk", "slug"))
        return [
            {"organization": slugs[organization_id], "role": grant.role}
            for organization_id, grant in sorted(grants.items())
        ]


class CustomerSerializer(serializers.ModelSerializer):
    phone = serializers.CharField()

    class Meta:
        model = Customer
        fields = ["id", "full_name", "email", "phone", "created_at"]
