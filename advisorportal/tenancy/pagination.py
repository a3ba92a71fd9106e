from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    """Cursor (keyset) pagination: the cost of a page does not depend on how deep it is."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500
