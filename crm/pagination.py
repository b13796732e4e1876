from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.response import Response


class StableCursorPagination(CursorPagination):
    """Cursor pagination on the primary key: stable under inserts, O(1) per page."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class SinglePagePagination(BasePagination):
    """The list envelope for small, admin-ordered lists: everything on one page, in order."""

    def paginate_queryset(self, queryset, request, view=None):
        return list(queryset[:1000])

    def get_paginated_response(self, data):
        return Response({"next": None, "previous": None, "count": len(data), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True},
                "previous": {"type": "string", "nullable": True},
                "count": {"type": "integer"},
                "results": schema,
            },
        }
