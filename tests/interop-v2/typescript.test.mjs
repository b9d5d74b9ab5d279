// The contract for oRPC 2: `conformance --emit-typescript-v2` writes it, and `tsc` type-checks
// `typed/client.ts` with it (oRPC 2's @orpc/contract), whose `@ts-expect-error` lines must each be
// errors; then oRPC 2's RPCLink reads a declared error, a bigint, a Date and a file over /v2/rpc.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { createORPCClient, isInferableError } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'

import { CONFORMANCE_BIN, startServer } from '../interop/conformance-server.mjs'

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const generated = path.join(here, 'typed', 'generated')
const contractTs = path.join(generated, 'contract.ts')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

async function emit() {
  mkdirSync(generated, { recursive: true })
  const { stdout } = await run(CONFORMANCE_BIN, ['--emit-typescript-v2', contractTs], { timeout: 30_000 })
  assert.equal(stdout, '', 'it writes the file and exits without listening')
  return readFileSync(contractTs, 'utf8')
}

test("the contract is written with oRPC 2's builder: no routes, no statuses, asyncIteratorObject", async () => {
  const module = await emit()
  const imports = [...module.matchAll(/from '([^']+)'/g)].map(m => m[1])
  assert.deepEqual([...new Set(imports)], ['@orpc/contract'])
  assert.doesNotMatch(module, /\bany\b|oc\.route|eventIterator|status:/)
  assert.match(module, /count: oc\.input\(type<CountInput>\(\)\)\.output\(asyncIteratorObject\(type<Tick>\(\), type<string>\(\)\)\)/)
  assert.match(module, /RATE_LIMITED: \{ message: 'slow down', data: type<RetryAfter>\(\) \}/)
})

test('tsc types an oRPC 2 client with it, and rejects every mistake marked in typed/client.ts', async () => {
  await emit()
  const result = await run(process.execPath, [tsc, '-p', path.join(here, 'typed', 'tsconfig.json')], {
    timeout: 120_000,
  }).catch(err => err)
  assert.equal(result.code ?? 0, 0, `tsc failed:\n${result.stdout}\n${result.stderr}`)
})

test("oRPC 2's RPCLink uploads and downloads files over /v2/rpc", async () => {
  const server = await startServer()
  try {
    const client = createORPCClient(new RPCLink({ origin: server.url, url: '/v2/rpc' }))
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251)
    const uploaded = await client.upload({ name: 'a', file: new File([bytes], 'a.bin', { type: 'application/x-test' }) })
    assert.equal(uploaded.file_name, 'a.bin')
    assert.equal(uploaded.size, bytes.length)
    assert.equal(uploaded.type, 'application/x-test')

    const file = await client.download({ size: 1000 })
    assert.ok(file instanceof File, `a File: ${file}`)
    assert.equal(file.name, 'download.bin')
    const got = new Uint8Array(await file.arrayBuffer())
    assert.deepEqual(got, bytes.slice(0, 1000))

    const error = await client.limited().then(() => null, e => e)
    assert.ok(isInferableError(error), `an inferable error: ${error}`)
    assert.equal(error.code, 'RATE_LIMITED')
  } finally {
    await server.stop()
  }
})
