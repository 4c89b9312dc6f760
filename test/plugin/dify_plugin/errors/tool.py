"""src/dify_plugin/errors/tool.py"""


class ToolProviderCredentialValidationError(Exception):
    pass
