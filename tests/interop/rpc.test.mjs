// The official oRPC RPC client (RPCLink from @orpc/client/fetch, 1.15.3)
// against the conformance server's RPC protocol at /rpc/{name}.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { createORPCClient, getEventMeta, ORPCError } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import { ClientRetryPlugin } from '@orpc/client/plugins'

import { pollUntil, startServer, withTimeout } from './conformance-server.mjs'

const T = { timeout: 15_000 }

let server
let client

before(async () => {
  server = await startServer()
  client = createORPCClient(new RPCLink({ url: server.rpcUrl }))
})

after(async () => {
  await server?.stop()
})

/** Reads an event iterator to its end: `{ values, metas, returned }`. */
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

/** Reads an event iterator that must fail: `{ values, metas, error }`. */
async function drainUntilError(iterator) {
  const values = []
  const metas = []
  try {
    while (true) {
      const r = await iterator.next()
      if (r.done) {
        assert.fail(`expected an error, but the stream ended with return value ${JSON.stringify(r.value)} after ${JSON.stringify(values)}`)
      }
      values.push(r.value)
      metas.push(getEventMeta(r.value))
    }
  } catch (error) {
    if (error?.code === 'ERR_ASSERTION') throw error
    return { values, metas, error }
  }
}

function assertORPCError(error, { code, status, message, data }) {
  assert.ok(error instanceof ORPCError, `expected an ORPCError, got ${error?.constructor?.name}: ${error}`)
  assert.equal(error.code, code)
  assert.equal(error.status, status)
  if (message !== undefined) assert.equal(error.message, message)
  if (data !== undefined) assert.deepEqual(error.data, data)
  assert.equal(error.defined, false)
}

test('count n=3 yields {i:0},{i:1},{i:2} with id/retry meta and returns "done!"', T, async () => {
  const it = await client.count({ n: 3 })
  const { values, metas, returned } = await drain(it)
  assert.deepEqual(values.map(v => ({ ...v })), [{ i: 0 }, { i: 1 }, { i: 2 }])
  assert.equal(returned, 'done!')
  assert.deepEqual(metas.map(m => m?.id), ['0', '1', '2'])
  assert.deepEqual(metas.map(m => m?.retry), [1000, 1000, 1000])
})

test('count honours the lastEventId call option (last-event-id header)', T, async () => {
  const it = await client.count({ n: 5 }, { lastEventId: '2' })
  const { values, metas, returned } = await drain(it)
  assert.deepEqual(values.map(v => ({ ...v })), [{ i: 3 }, { i: 4 }])
  assert.deepEqual(metas.map(m => m?.id), ['3', '4'])
  assert.equal(returned, 'done!')
})

test('fail yields {a:1} then throws BAD_REQUEST 400 "nope" {x:1}', T, async () => {
  const { values, error } = await drainUntilError(await client.fail())
  assert.deepEqual(values.map(v => ({ ...v })), [{ a: 1 }])
  assertORPCError(error, { code: 'BAD_REQUEST', status: 400, message: 'nope', data: { x: 1 } })
})

test('panic yields {a:1} then throws INTERNAL_SERVER_ERROR 500, and the server keeps serving', T, async () => {
  const { values, error } = await drainUntilError(await client.panic())
  assert.deepEqual(values.map(v => ({ ...v })), [{ a: 1 }])
  assertORPCError(error, { code: 'INTERNAL_SERVER_ERROR', status: 500, message: 'Internal server error' })
  assert.equal(error.data, undefined)
  assert.deepEqual(await client.echo({ name: 'after-panic' }), { greeting: 'hello after-panic' })
})

test('meta: id "α-1" with comments, then retry 2500, then INTERNAL_SERVER_ERROR', T, async () => {
  const { values, metas, error } = await drainUntilError(await client.meta())
  assert.deepEqual(values.map(v => ({ ...v })), [{ n: 1 }, { n: 2 }])
  assert.equal(metas[0]?.id, 'α-1')
  assert.deepEqual(metas[0]?.comments, ['hello', 'world'])
  assert.equal(metas[0]?.retry, undefined)
  assert.equal(metas[1]?.retry, 2500)
  assert.equal(metas[1]?.id, undefined)
  assert.deepEqual(metas[1]?.comments, [])
  assertORPCError(error, { code: 'INTERNAL_SERVER_ERROR', status: 500, message: 'Internal server error' })
})

test('validated [1,100,101] yields 1,100 then EVENT_ITERATOR_VALIDATION_FAILED 500', T, async () => {
  const { values, error } = await drainUntilError(await client.validated({ values: [1, 100, 101] }))
  assert.deepEqual(values.map(v => ({ ...v })), [{ value: 1 }, { value: 100 }])
  assertORPCError(error, {
    code: 'EVENT_ITERATOR_VALIDATION_FAILED',
    status: 500,
    message: 'Event iterator validation failed',
  })
})

test('text yields strings unchanged (newlines, empty, non-ASCII) and returns undefined', T, async () => {
  const items = ['a\nb', 'x\r\ny', '', 'ü€😀', 'c\rd']
  const { values, returned } = await drain(await client.text({ items }))
  assert.deepEqual(values, items)
  assert.equal(returned, undefined)
})

test('echo returns {greeting:"hello bob"}', T, async () => {
  assert.deepEqual(await client.echo({ name: 'bob' }), { greeting: 'hello bob' })
})

test('echo with an empty name is BAD_REQUEST "Input validation failed" with issues[0].path ["name"]', T, async () => {
  const error = await client.echo({ name: '' }).then(
    v => assert.fail(`expected an error, got ${JSON.stringify(v)}`),
    e => e,
  )
  assertORPCError(error, { code: 'BAD_REQUEST', status: 400, message: 'Input validation failed' })
  assert.ok(Array.isArray(error.data?.issues), `data.issues should be an array: ${JSON.stringify(error.data)}`)
  assert.ok(error.data.issues.length >= 1)
  assert.deepEqual(error.data.issues[0].path, ['name'])
  assert.equal(typeof error.data.issues[0].message, 'string')
})

test('unknown procedure is NOT_FOUND 404', T, async () => {
  const error = await client.noSuchProcedure().then(
    v => assert.fail(`expected an error, got ${JSON.stringify(v)}`),
    e => e,
  )
  assertORPCError(error, { code: 'NOT_FOUND', status: 404 })
})

test('RPC path called with GET is METHOD_NOT_SUPPORTED 405', T, async () => {
  const getClient = createORPCClient(new RPCLink({ url: server.rpcUrl, method: 'GET' }))
  const error = await getClient.echo({ name: 'bob' }).then(
    v => assert.fail(`expected an error, got ${JSON.stringify(v)}`),
    e => e,
  )
  assertORPCError(error, { code: 'METHOD_NOT_SUPPORTED', status: 405 })
})

test('forever: the client stops reading with return()', T, async () => {
  const it = await client.forever({ interval_ms: 20 })
  const ticks = []
  for (let k = 0; k < 3; k++) {
    const r = await it.next()
    assert.equal(r.done, false)
    ticks.push({ ...r.value })
  }
  await withTimeout(it.return(), 5_000, 'iterator.return()')
  assert.deepEqual(ticks, [{ tick: 0 }, { tick: 1 }, { tick: 2 }])
})

/**
 * A TransformStream that passes SSE bytes through until `n` complete
 * `event: message` blocks have gone by, then errors (cutting the stream
 * right after that block, as a dropped connection would).
 */
function cutAfterMessages(n) {
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let buffer = ''
  let seen = 0
  return new TransformStream({
    transform(chunk, controller) {
      buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n')
      let end
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end + 2)
        buffer = buffer.slice(end + 2)
        controller.enqueue(encoder.encode(block))
        if (/^event: ?message$/m.test(block) && ++seen === n) {
          controller.error(new Error(`test cut the stream after ${n} events`))
          return
        }
      }
    },
    flush(controller) {
      if (buffer) controller.enqueue(encoder.encode(buffer))
    },
  })
}

test('ClientRetryPlugin resumes a cut stream from last-event-id with no loss and no duplicate', T, async () => {
  const requests = []
  const retries = []
  const link = new RPCLink({
    url: server.rpcUrl,
    fetch: async (request, init) => {
      requests.push({ url: request.url, lastEventId: request.headers.get('last-event-id') })
      const response = await fetch(request, init)
      if (requests.length !== 1) return response
      // First call: hand the client a body that breaks after 3 events.
      return new Response(response.body.pipeThrough(cutAfterMessages(3)), {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      })
    },
    plugins: [
      new ClientRetryPlugin({
        default: {
          retry: 3,
          retryDelay: ({ lastEventId, lastEventRetry, attemptIndex }) => {
            retries.push({ lastEventId, lastEventRetry, attemptIndex })
            return 0
          },
        },
      }),
    ],
  })
  const retryClient = createORPCClient(link)

  const it = await retryClient.count({ n: 20, delay_ms: 50 }, { context: { retry: 3 } })
  const { values, metas, returned } = await drain(it)

  assert.deepEqual(values.map(v => v.i), Array.from({ length: 20 }, (_, i) => i))
  assert.deepEqual(metas.map(m => m?.id), Array.from({ length: 20 }, (_, i) => String(i)))
  assert.equal(returned, 'done!')

  assert.equal(requests.length, 2, `expected exactly one retry: ${JSON.stringify(requests)}`)
  assert.equal(requests[0].lastEventId, null)
  assert.equal(requests[1].lastEventId, '2')
  assert.ok(requests.every(r => new URL(r.url).pathname === '/rpc/count'))
  assert.deepEqual(retries, [{ lastEventId: '2', lastEventRetry: 1000, attemptIndex: 0 }])
})

// Runs last: every stream above (finished, failed, panicked, cancelled or cut) must be cleaned up.
test('stats: cleaned === started after all the streams', T, async () => {
  const stats = await pollUntil(
    () => client.stats(),
    s => s.cleaned === s.started,
  )
  // count x2, fail, panic, meta, validated, text, forever, count (cut) + count (resumed)
  assert.equal(stats.started, 10, JSON.stringify(stats))
  assert.equal(stats.cleaned, stats.started, JSON.stringify(stats))
})
