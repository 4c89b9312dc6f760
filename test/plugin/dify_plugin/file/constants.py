"""src/dify_plugin/file/constants.py"""

DIFY_FILE_IDENTITY = "__dify__file__"
