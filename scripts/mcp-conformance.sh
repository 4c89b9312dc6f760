#!/usr/bin/env bash
# The MCP project's conformance suite against /mcp: starts the built service
# (npm run build first) on loopback with its embedded development S3 and no
# keys, runs `conformance server` with the scenarios that do not apply listed
# in test/mcp-conformance/expected-failures.yml, then the README's MCP
# Inspector CLI example (tools/list, tools/call), and stops the service.
# Needs Node >= 22 on PATH (the suite uses fs.globSync); CI runs it on Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFORMANCE_VERSION=${CONFORMANCE_VERSION:-0.1.16}
INSPECTOR_VERSION=${INSPECTOR_VERSION:-2.12.0}
work=$(mktemp -d /tmp/gw-mcp-conformance.XXXXXX)
pid=
cleanup () { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
npm install --no-save --no-audit --no-fund --prefix "$work/suite" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >/dev/null
npm install --no-save --no-audit --no-fund --prefix "$work/inspector" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >/dev/null
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
PORT=$port HOST=127.0.0.1 DATA_DIR="$work/data" LOG_LEVEL=warn LOG_FORMAT=json node dist/server.js >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/healthz" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done
cd "$work"
"$work/suite/node_modules/.bin/conformance" server --url "http://127.0.0.1:$port/mcp" \
  --expected-failures "$OLDPWD/test/mcp-conformance/expected-failures.yml" 2>&1 | sed -n '/=== SUMMARY ===/,$p'
status=${PIPESTATUS[0]}
echo "conformance exit: $status"
[ "$status" -eq 0 ] || exit "$status"

inspector="$work/inspector/node_modules/.bin/mcp-inspector"
listed=$("$inspector" --cli "http://127.0.0.1:$port/mcp" --transport http --method tools/list)
grep -q '"name": "s3_list_objects"' <<<"$listed" || { echo "inspector: tools/list lacks s3_list_objects"; exit 1; }
called=$("$inspector" --cli "http://127.0.0.1:$port/mcp" --transport http --method tools/call --tool-name s3_list_objects --tool-arg max_keys=5)
grep -q '"structuredContent"' <<<"$called" || { echo "inspector: tools/call gave no structuredContent: $called"; exit 1; }
echo "inspector CLI: tools/list listed $(grep -c '"name": "s3_' <<<"$listed") tools; tools/call s3_list_objects answered structuredContent"
