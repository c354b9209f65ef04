import re

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

_WHOLE = re.compile(r"\A[1-9][0-9]{0,9}\Z")


class PageNumberPagination(pagination.PageNumberPagination):
    """Every list is paginated: `?page=2&page_size=50`, at most 100 rows a page.

    Both are strict, as the schema says: a page or page_size that is not a whole number from 1
    (page_size at most 100) is a 400, not quietly the default; a page past the last is a 404.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request) -> int:
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not _WHOLE.match(given) or int(given) > self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: f"A whole number from 1 to {self.max_page_size}."}
            )
        return int(given)

    def paginate_queryset(self, queryset, request, view=None):
        given = request.query_params.get(self.page_query_param)
        if given is not None and given not in self.last_page_strings and not _WHOLE.match(given):
            raise ValidationError({self.page_query_param: "A whole number from 1."})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["maximum"] = 9_999_999_999
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters
