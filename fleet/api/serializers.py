from rest_framework import serializers

from fleet.models import Car, CarReview


class CarSerializer(serializers.ModelSerializer):
    location = serializers.IntegerField(source="resource.location_id")
    currency = serializers.CharField(source="organization.currency")

    class Meta:
        model = Car
        fields = [
            "id",
            "location",
            "make",
            "model",
            "year",
            "daily_rate",
            "currency",
            "features",
            "seats",
            "transmission",
            "average_rating",
            "review_count",
        ]


class CarReviewSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField(help_text="The reviewer's first name only.")

    class Meta:
        model = CarReview
        fields = ["rating", "comment", "author", "created_at"]

    def get_author(self, review: CarReview) -> str:
        return review.customer.full_name.split(" ")[0]


class FreePeriodSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class CarAvailabilitySerializer(serializers.Serializer):
    car = serializers.IntegerField()
    time_zone = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    free_periods = FreePeriodSerializer(many=True)
