// Files with oRPC's own clients (1.15.3): uploads and downloads with RPCLink (oRPC's
// multipart form) and OpenAPILink (multipart/form-data in, the raw file out), against the
// conformance server's `upload` and `download`; the limits as 413 and 400 answers.

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, test } from 'node:test'

import { createORPCClient, ORPCError } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import { oc } from '@orpc/contract'
import { OpenAPILink } from '@orpc/openapi-client/fetch'

import { startServer } from './conformance-server.mjs'

const T = { timeout: 30_000 }
const MiB = 1024 * 1024

let server
let rpc
let openapi

before(async () => {
  server = await startServer()
  rpc = createORPCClient(new RPCLink({ url: server.rpcUrl }))
  const contract = {
    upload: oc.route({ method: 'POST', path: '/upload' }),
    download: oc.route({ method: 'GET', path: '/download' }),
    echo: oc.route({ method: 'POST', path: '/echo' }),
  }
  openapi = createORPCClient(new OpenAPILink(contract, { url: server.apiUrl }))
})

after(async () => {
  await server?.stop()
})

/** `n` bytes that are not all alike. */
function bytes(n) {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 9)) & 0xff
  return out
}

const sha256 = data => createHash('sha256').update(data).digest('hex')

/** What `download` must answer: byte i is i % 251. */
function expectedDownload(size) {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = i % 251
  return out
}

for (const [link, client] of [['RPCLink', () => rpc], ['OpenAPILink', () => openapi]]) {
  test(`${link} uploads a file and the server describes it exactly`, T, async () => {
    for (const size of [0, 5, 300_000, 10 * MiB]) {
      const data = bytes(size)
      const file = new File([data], 'résumé "v2".bin', { type: 'application/x-test' })
      const described = await client().upload({ name: `n${size}`, file })
      assert.deepEqual(described, {
        name: `n${size}`,
        file_name: 'résumé "v2".bin',
        size,
        type: 'application/x-test',
        sha256: sha256(data),
      })
    }
  })

  test(`${link} downloads a file`, T, async () => {
    for (const size of [0, 1000, 3 * MiB]) {
      const file = await client().download({ size })
      assert.ok(file instanceof Blob, `expected a File, got ${file}`)
      assert.equal(file.name, 'download.bin')
      assert.equal(file.type, 'application/octet-stream')
      assert.deepEqual(new Uint8Array(await file.arrayBuffer()), expectedDownload(size))
    }
  })

  test(`${link}: a file over the limit is a 413 and the server keeps serving`, T, async () => {
    const file = new File([bytes(10 * MiB + 1)], 'big.bin')
    await assert.rejects(client().upload({ name: 'big', file }), (error) => {
      assert.ok(error instanceof ORPCError, `${error}`)
      assert.equal(error.status, 413)
      assert.equal(error.code, 'PAYLOAD_TOO_LARGE')
      return true
    })
    assert.deepEqual(await client().echo({ name: 'still' }), { greeting: 'hello still' })
  })
}

test('a blob without a name arrives as "blob"', T, async () => {
  const described = await rpc.upload({ name: 'b', file: new Blob(['abc'], { type: 'text/plain' }) })
  assert.equal(described.file_name, 'blob')
  assert.equal(described.type, 'text/plain')
  assert.equal(described.size, 3)
})

test('a truncated or malformed form is a 400 and the server keeps serving', T, async () => {
  const boundary = 'xyz'
  const whole = `--${boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n`
    + `{"json":{"name":"x","file":{}},"maps":[["file"]]}\r\n`
    + `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.txt"\r\n`
    + `Content-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`
  const post = body => fetch(`${server.rpcUrl}/upload`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  })
  const ok = await post(whole)
  assert.equal(ok.status, 200, await ok.clone().text())
  assert.equal((await ok.json()).json.size, 5)
  for (const bad of [
    whole.slice(0, whole.length - 20), // cut inside the file's part
    whole.replace('"maps":[["file"]]', '"maps":[["file"],["other"]]'), // a file the form lacks
    whole.replace('name="data"', 'name="nope"'), // no data part
    'not a form at all',
  ]) {
    const response = await post(bad)
    assert.equal(response.status, 400, `${JSON.stringify(bad.slice(-40))}: ${await response.clone().text()}`)
    assert.equal((await response.json()).json.code, 'BAD_REQUEST')
  }
  assert.deepEqual(await rpc.echo({ name: 'after' }), { greeting: 'hello after' })
})
