"""The OpenAPI schema: optional authentication on public reads, and every error response each operation can give."""

from django.conf import settings
from drf_spectacular import openapi
from rest_framework import permissions

from .permissions import CanRead

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_RESPONSES = {
    "400": "Invalid parameters or body; `errors` lists each problem with its index and field.",
    "401": "No credentials, or an invalid or revoked token.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "Not found (or not visible to you), or a page past the end.",
    "409": "A conflict: the job's lease is not yours (or is over), or a concurrent request wrote the same rows.",
    "413": "The request body is larger than the configured limit.",
    "429": "Too many requests: throttled; retry after the time the Retry-After header gives.",
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer", "description": "The item's position in a list body."},
                    "field": {"type": "string", "description": "Dotted path of the field; empty for the item."},
                    "message": {"type": "string"},
                },
                "required": ["field", "message"],
            },
        },
    },
    "required": ["detail", "code"],
}


class AutoSchema(openapi.AutoSchema):
    def get_auth(self):
        auths = super().get_auth()
        is_read = self.method in permissions.SAFE_METHODS
        if not is_read:  # writes need a token: a browser session is refused
            auths = [auth for auth in auths if "cookieAuth" not in auth]
        public = is_read and settings.API_ANONYMOUS_READ
        if public and any(isinstance(p, CanRead) for p in self.view.get_permissions()) and {} not in auths:
            auths.append({})
        return auths


def _codes(path: str, method: str, operation: dict) -> list[str]:
    codes = ["400", "401", "403", "404", "429"]
    if method != "get":
        codes += ["409", "413"]
    return codes


def add_error_responses(result: dict, generator, request, public) -> dict:
    """Post-processing hook: document the error responses of every operation, in the one shape they all share, and
    that JSON request bodies refuse fields they do not define."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name, component in schemas.items():
        if name.endswith("Request") and "properties" in component and not name.startswith("Multipart"):
            component["additionalProperties"] = False
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _codes(path, method, operation):
                responses.setdefault(
                    code, {"description": ERROR_RESPONSES[code], "content": {"application/json": {"schema": ERROR}}}
                )
    return result
