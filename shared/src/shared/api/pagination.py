from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    # A client may ask for fewer rows a page, never for more than this.
    max_page_size = 200
