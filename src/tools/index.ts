// Every tool the service offers, in the order the faces list them. A new tool
// is one file in this folder and a line here; its HTTP routes also need their
// endpoint YAMLs (the server refuses to start without them).
import copyObject from './copy-object.js'
import deleteObject from './delete-object.js'
import downloadBase64 from './download-base64.js'
import downloadFile from './download-file.js'
import listObjects from './list-objects.js'
import presign from './presign.js'
import type { ToolSpec } from './registry.js'
import statObject from './stat-object.js'
import uploadBase64 from './upload-base64.js'
import uploadFile from './upload-file.js'
import uploadFiles from './upload-files.js'
import uploadUrl from './upload-url.js'

export const TOOLS: readonly ToolSpec[] = [
  uploadFile, uploadFiles, uploadUrl, uploadBase64, downloadFile, downloadBase64, presign,
  listObjects, statObject, deleteObject, copyObject
]
