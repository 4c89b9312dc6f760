// Shared TypeBox schemas beyond the tools' flat parameters (those are declared
// in the tool registry, src/tools/).
import { Type } from '@sinclair/typebox'

/** A Dify file object (DIFY.md §3); only these fields are read, the rest is ignored. */
export const DifyFileObject = Type.Object({
  url: Type.String({ description: 'The file URL: absolute http(s), or a Dify /files/... path resolved against DIFY_ENDPOINT.' }),
  filename: Type.Optional(Type.String()),
  mime_type: Type.Optional(Type.String())
}, { additionalProperties: true })
