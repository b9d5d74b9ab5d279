// The official oRPC WebSocket client (RPCLink from @orpc/client/websocket, 1.15.3) against the
// conformance server's WebSocket transport at /ws: the same procedures as over /rpc, many calls
// on one socket, aborts and killed sockets cleaned up on the server.
//
// Node 20 has no WebSocket of its own without a flag, so the socket is the `ws` package's, as in
// oRPC's own Node examples.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { createORPCClient, getEventMeta, ORPCError } from '@orpc/client'
import { RPCLink as HttpLink } from '@orpc/client/fetch'
import { RPCLink } from '@orpc/client/websocket'
import WebSocket from 'ws'

import { pollUntil, startServer, withTimeout } from './conformance-server.mjs'

const T = { timeout: 20_000 }

let server
let wsUrl
let socket
let client
/** Over HTTP, to read `stats` whatever happens to the sockets. */
let http

/** A socket to the server, open. */
async function open() {
  const ws = new WebSocket(wsUrl)
  await withTimeout(new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true })
    ws.addEventListener('error', reject, { once: true })
  }), 5_000, 'the socket opening')
  return ws
}

before(async () => {
  server = await startServer()
  wsUrl = `${server.url.replace('http://', 'ws://')}/ws`
  socket = await open()
  client = createORPCClient(new RPCLink({ websocket: socket }))
  http = createORPCClient(new HttpLink({ url: server.rpcUrl }))
})

after(async () => {
  socket?.close()
  await server?.stop()
})

/** Reads an event iterator to its end with for-await: `{ values, metas, returned }`. */
async function drain(iterator) {
  const values = []
  const metas = []
  while (true) {
    const r = await iterator.next()
    if (r.done) return { values, metas, returned: r.value }
    values.push(r.value)
    metas.push(getEventMeta(r.value))
  }
}

async function rejection(promise) {
  return promise.then(v => assert.fail(`expected an error, got ${JSON.stringify(v)}`), e => e)
}

/** Waits until every stream the server started has run its cleanup, within `ms`. */
async function allCleaned(ms) {
  return pollUntil(() => http.stats(), s => s.cleaned === s.started, ms)
}

test('count n=3 with for-await: {i} events with id/retry meta, then "done!"', T, async () => {
  const values = []
  const metas = []
  const it = await client.count({ n: 3 })
  for await (const value of it) {
    values.push({ ...value })
    metas.push(getEventMeta(value))
  }
  assert.deepEqual(values, [{ i: 0 }, { i: 1 }, { i: 2 }])
  assert.deepEqual(metas.map(m => m?.id), ['0', '1', '2'])
  assert.deepEqual(metas.map(m => m?.retry), [1000, 1000, 1000])
  const { returned } = await drain(await client.count({ n: 1 }))
  assert.equal(returned, 'done!')
})

test('count resumes after the lastEventId call option (its own last-event-id header)', T, async () => {
  const { values, metas, returned } = await drain(await client.count({ n: 5 }, { lastEventId: '2' }))
  assert.deepEqual(values.map(v => v.i), [3, 4])
  assert.deepEqual(metas.map(m => m?.id), ['3', '4'])
  assert.equal(returned, 'done!')
})

test('an error event surfaces as ORPCError; so do plain errors and validation', T, async () => {
  const it = await client.fail()
  assert.deepEqual({ ...(await it.next()).value }, { a: 1 })
  const error = await rejection(it.next())
  assert.ok(error instanceof ORPCError, `got ${error}`)
  assert.deepEqual([error.code, error.status, error.message, error.data, error.defined], ['BAD_REQUEST', 400, 'nope', { x: 1 }, false])

  const meta = await rejection(drain(await client.meta()))
  assert.deepEqual([meta.code, meta.status], ['INTERNAL_SERVER_ERROR', 500])

  const limited = await rejection(client.limited())
  assert.deepEqual([limited.code, limited.status, limited.message, limited.data, limited.defined], ['RATE_LIMITED', 429, 'slow down', { retry_after: 10 }, true])

  const invalid = await rejection(client.echo({ name: '' }))
  assert.deepEqual([invalid.code, invalid.message], ['BAD_REQUEST', 'Input validation failed'])
  assert.deepEqual(invalid.data.issues[0].path, ['name'])

  const missing = await rejection(client.noSuchProcedure())
  assert.deepEqual([missing.code, missing.status], ['NOT_FOUND', 404])

  assert.deepEqual(await client.echo({ name: 'ws' }), { greeting: 'hello ws' })
})

test('types: bigint and Date travel with meta, both ways', T, async () => {
  const at = new Date('2024-01-02T03:04:05.678Z')
  const { values, returned } = await drain(await client.types({ big: 9007199254740993n, at }))
  const expected = { big: 9007199254740994n, at: new Date('2024-01-03T03:04:05.678Z') }
  assert.equal(values.length, 1)
  assert.deepEqual({ ...values[0] }, expected)
  assert.equal(typeof values[0].big, 'bigint')
  assert.ok(values[0].at instanceof Date)
  assert.deepEqual(returned, expected)
})

test('an aborted iterator is cleaned up on the server; the socket goes on', T, async () => {
  const before = await http.stats()
  const controller = new AbortController()
  const it = await client.forever({ interval_ms: 20 }, { signal: controller.signal })
  assert.deepEqual({ ...(await it.next()).value }, { tick: 0 })
  controller.abort()
  await rejection(it.next())
  const stats = await allCleaned(2_000)
  assert.equal(stats.started, before.started + 1, JSON.stringify(stats))
  assert.equal(stats.cleaned, stats.started, JSON.stringify(stats))

  // Stopping with return() (for-await's break) aborts too.
  for await (const tick of await client.forever({ interval_ms: 20 })) {
    assert.equal(tick.tick, 0)
    break
  }
  const after = await allCleaned(2_000)
  assert.equal(after.cleaned, before.started + 2, JSON.stringify(after))
  assert.deepEqual(await client.echo({ name: 'still open' }), { greeting: 'hello still open' })
})

test('100 iterators at once on one socket', T, async () => {
  const results = await Promise.all(Array.from({ length: 100 }, async (_, k) => {
    const { values, returned } = await drain(await client.count({ n: 5, delay_ms: k % 7 }))
    return { values: values.map(v => v.i), returned }
  }))
  for (const result of results) {
    assert.deepEqual(result, { values: [0, 1, 2, 3, 4], returned: 'done!' })
  }
  assert.equal((await allCleaned(2_000)).cleaned, (await http.stats()).started)
})

test('a socket killed mid-stream: every iterator on it is cleaned up within 1 s', T, async () => {
  const before = await http.stats()
  const doomed = await open()
  const doomedClient = createORPCClient(new RPCLink({ websocket: doomed }))
  const iterators = await Promise.all(Array.from({ length: 20 }, () => doomedClient.forever({ interval_ms: 50 })))
  for (const it of iterators) assert.equal((await it.next()).value.tick, 0)
  const started = await http.stats()
  assert.equal(started.started - before.started, 20)

  const killed = Date.now()
  doomed.terminate() // the TCP connection goes away, with no close frame
  const stats = await allCleaned(1_000)
  const ms = Date.now() - killed
  assert.equal(stats.cleaned, stats.started, `not all cleaned after ${ms} ms: ${JSON.stringify(stats)}`)
  assert.ok(ms <= 1_000, `cleaned up after ${ms} ms`)
  // Every iterator on the dead socket fails on the client, and the other socket is untouched.
  for (const it of iterators) await rejection(it.next())
  assert.deepEqual(await client.echo({ name: 'other socket' }), { greeting: 'hello other socket' })
})

test('a page of another origin may not open a socket', T, async () => {
  const refused = new WebSocket(wsUrl, { origin: 'https://evil.example' })
  const status = await withTimeout(new Promise(resolve => {
    refused.on('unexpected-response', (_, response) => resolve(response.statusCode))
    refused.on('open', () => resolve('opened'))
    refused.on('error', () => {})
  }), 5_000, 'the refused upgrade')
  assert.equal(status, 403)
})
