// oRPC's BatchLinkPlugin (@orpc/client/plugins, 1.15.3) over RPCLink against the conformance
// server's RPC protocol: both answer modes, errors staying with their calls, and an event
// iterator left out of the batch streaming beside it.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { createORPCClient, ORPCError } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import { BatchLinkPlugin } from '@orpc/client/plugins'

import { startServer } from './conformance-server.mjs'

const T = { timeout: 15_000 }
const STREAMS = ['count', 'fail', 'forever', 'validated', 'text', 'panic', 'meta', 'types']

let server

before(async () => {
  server = await startServer()
})

after(async () => {
  await server?.stop()
})

/** A client batching every plain call in `mode`, and the requests its link sent. */
function batchingClient(mode) {
  const requests = []
  const link = new RPCLink({
    url: server.rpcUrl,
    fetch: (request, init) => {
      requests.push({ path: new URL(request.url).pathname, batch: request.headers.get('x-orpc-batch') })
      return fetch(request, init)
    },
    plugins: [new BatchLinkPlugin({
      mode,
      groups: [{ condition: () => true, context: {} }],
      exclude: ({ path }) => STREAMS.includes(path[0]),
    })],
  })
  return { client: createORPCClient(link), requests }
}

for (const mode of ['streaming', 'buffered']) {
  test(`${mode}: ten calls travel as one request, each answered alone`, T, async () => {
    const { client, requests } = batchingClient(mode)
    const names = Array.from({ length: 10 }, (_, i) => `n${i}`)
    const answers = await Promise.all(names.map(name => client.echo({ name })))
    assert.deepEqual(answers, names.map(name => ({ greeting: `hello ${name}` })))
    assert.deepEqual(requests, [{ path: '/rpc/echo/__batch__', batch: mode }])
  })

  test(`${mode}: an error stays with its call`, T, async () => {
    const { client, requests } = batchingClient(mode)
    const [ok, invalid, limited] = await Promise.allSettled([
      client.echo({ name: 'ada' }),
      client.echo({ name: '' }),
      client.limited(),
    ])
    assert.equal(requests.length, 1)
    assert.deepEqual(ok, { status: 'fulfilled', value: { greeting: 'hello ada' } })

    assert.equal(invalid.status, 'rejected')
    assert.ok(invalid.reason instanceof ORPCError, `${invalid.reason}`)
    assert.equal(invalid.reason.code, 'BAD_REQUEST')
    assert.equal(invalid.reason.status, 400)
    assert.equal(invalid.reason.message, 'Input validation failed')
    assert.ok(Array.isArray(invalid.reason.data.issues))

    assert.equal(limited.status, 'rejected')
    assert.equal(limited.reason.code, 'RATE_LIMITED')
    assert.equal(limited.reason.status, 429)
    assert.equal(limited.reason.defined, true)
    assert.deepEqual(limited.reason.data, { retry_after: 10 })
  })

  test(`${mode}: a stream runs beside a batch`, T, async () => {
    const { client, requests } = batchingClient(mode)
    const [events, greetings] = await Promise.all([
      (async () => {
        const values = []
        for await (const value of await client.count({ n: 3, delay_ms: 20 })) values.push({ ...value })
        return values
      })(),
      Promise.all([client.echo({ name: 'a' }), client.echo({ name: 'b' })]),
    ])
    assert.deepEqual(events, [{ i: 0 }, { i: 1 }, { i: 2 }])
    assert.deepEqual(greetings, [{ greeting: 'hello a' }, { greeting: 'hello b' }])
    assert.deepEqual(
      requests.map(r => r.path).sort(),
      ['/rpc/count', '/rpc/echo/__batch__'],
    )
  })
}

test('more calls than fit a batch are split by the client and all answered', T, async () => {
  const { client, requests } = batchingClient('streaming')
  const names = Array.from({ length: 25 }, (_, i) => `m${i}`)
  const answers = await Promise.all(names.map(name => client.echo({ name })))
  assert.deepEqual(answers, names.map(name => ({ greeting: `hello ${name}` })))
  assert.ok(requests.length >= 3, `${requests.length} requests`)
  assert.ok(requests.every(r => r.batch === 'streaming'))
})
