// Write the Dify tool plugin's tool YAMLs (tools/*.yaml) from the tool
// registry: `npm run plugin:tools`. test/unit/tool-plugin.test.ts fails when
// the files on disk differ from what this writes.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PLUGIN_ROOT } from '../src/dify/endpoints.js'
import { pluginTools, toolYamlText } from '../src/faces/dify-plugin.js'
import { TOOLS } from '../src/tools/index.js'

for (const tool of pluginTools(TOOLS)) {
  const file = join(PLUGIN_ROOT, 'tools', `${tool.name}.yaml`)
  writeFileSync(file, toolYamlText(tool))
  console.log(`wrote tools/${tool.name}.yaml`)
}
