"""The tool provider: credentials are checked on save by calling the
gateway's /readyz with the key — a gateway that is down, a wrong URL, a
wrong key and an S3 the gateway cannot reach each get their own message."""

from typing import Any

from dify_plugin import ToolProvider
from dify_plugin.errors.tool import ToolProviderCredentialValidationError

from tools import gateway


class S3GatewayProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        try:
            gw = gateway.Gateway(credentials)
            gw.call("GET", "/readyz", {})
        except gateway.GatewayError as err:
            if err.code == "UNAUTHORIZED":
                raise ToolProviderCredentialValidationError(f"The gateway refused the API key: {err.message}") from err
            if err.code == "UPSTREAM_UNAVAILABLE" and err.status == 0:
                raise ToolProviderCredentialValidationError(f"The gateway is not reachable: {err.message}") from err
            if err.status == 503:
                raise ToolProviderCredentialValidationError(f"The gateway answers, but its S3 is not ready ({err.code}): {err.message}") from err
            raise ToolProviderCredentialValidationError(f"{err.code}: {err.message}") from err
