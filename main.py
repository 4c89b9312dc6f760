# Entry point of the Dify endpoint plugin (manifest.yaml: runner.entrypoint).
from dify_plugin import DifyPluginEnv, Plugin

# 600 s: Dify's endpoint execution limit; large transfers stream through
plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=600))

if __name__ == "__main__":
    plugin.run()
