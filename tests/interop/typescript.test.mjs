// The TypeScript contract: `conformance --emit-typescript` writes it, and `tsc` (TypeScript from
// this project's lock file) type-checks `typed/client.ts` with it, whose `@ts-expect-error`
// lines must each be errors; then `OpenAPILink` routes a real call with it.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

import { createORPCClient, isDefinedError } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import ts from 'typescript'
import { OpenAPILink } from '@orpc/openapi-client/fetch'

import { CONFORMANCE_BIN, startServer } from './conformance-server.mjs'

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const generated = path.join(here, 'typed', 'generated')
const contractTs = path.join(generated, 'contract.ts')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

async function emit() {
  mkdirSync(generated, { recursive: true })
  const { stdout } = await run(CONFORMANCE_BIN, ['--emit-typescript', contractTs], { timeout: 30_000 })
  assert.equal(stdout, '', 'it writes the file and exits without listening')
  return readFileSync(contractTs, 'utf8')
}

test('the generated contract imports only @orpc/contract and types nothing as any', async () => {
  const module = await emit()
  const imports = [...module.matchAll(/from '([^']+)'/g)].map(m => m[1])
  assert.deepEqual([...new Set(imports)], ['@orpc/contract'])
  assert.doesNotMatch(module, /\bany\b/)
})

test('tsc types a client with it, and rejects every mistake marked in typed/client.ts', async () => {
  await emit()
  const result = await run(process.execPath, [tsc, '-p', path.join(here, 'typed', 'tsconfig.json')], {
    timeout: 120_000,
  }).catch(err => err)
  assert.equal(result.code ?? 0, 0, `tsc failed:\n${result.stdout}\n${result.stderr}`)
})

test('OpenAPILink routes calls with the contract at run time; RPCLink reads a declared error, a bigint and a Date', async () => {
  await emit()
  // Node 20 cannot run TypeScript: TypeScript's own transpiler turns the module into JavaScript.
  const js = ts.transpileModule(readFileSync(contractTs, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText
  const jsPath = path.join(generated, 'contract.mjs')
  writeFileSync(jsPath, js)
  const { contract } = await import(pathToFileURL(jsPath).href + `?t=${Date.now()}`)
  const server = await startServer()
  try {
    const client = createORPCClient(new OpenAPILink(contract, { url: server.apiUrl }))
    assert.deepEqual(await client.echo({ name: 'ada' }), { greeting: 'hello ada' })
    const ticks = []
    for await (const tick of await client.count({ n: 2 })) ticks.push(tick.i)
    assert.deepEqual(ticks, [0, 1])

    // The declared error, as oRPC's own client reads it over RPC.
    const rpc = createORPCClient(new RPCLink({ url: server.rpcUrl }))
    const error = await rpc.limited().then(() => null, e => e)
    assert.ok(isDefinedError(error), `a defined error: ${error}`)
    assert.equal(error.code, 'RATE_LIMITED')
    assert.equal(error.status, 429)
    assert.equal(error.message, 'slow down')
    assert.deepEqual(error.data, { retry_after: 10 })

    // A bigint and a Date arrive as such over RPC (oRPC's meta), and as strings over OpenAPI.
    const input = { big: 9007199254740993n, at: new Date('2024-05-01T12:00:00.000Z') }
    const values = []
    const types = await rpc.types(input)
    for (;;) {
      const { value, done } = await types.next()
      values.push(value)
      if (done) break
    }
    assert.equal(values.length, 2, 'one event, then the done value')
    for (const value of values) {
      assert.equal(typeof value.big, 'bigint')
      assert.equal(value.big, 9007199254740994n)
      assert.ok(value.at instanceof Date)
      assert.equal(value.at.toISOString(), '2024-05-02T12:00:00.000Z')
    }
    const viaOpenapi = []
    for await (const value of await client.types({ big: '9007199254740993', at: '2024-05-01T12:00:00.000Z' })) {
      viaOpenapi.push(value)
    }
    assert.deepEqual(viaOpenapi, [{ big: '9007199254740994', at: '2024-05-02T12:00:00.000Z' }])
  } finally {
    await server.stop()
  }
})
