// oRPC 2's RPC client (RPCLink of @orpc/client 2.0.0-beta.16, a beta) against the conformance
// server's /v2/rpc, and the same checks against oRPC 2's own server (reference-server.mjs):
// plain calls, a stream with ids and its resume, input errors, error events, a defined error,
// a bigint and a Date, and the wire itself (`event: close`, named meta tags).

import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'

import { ORPCError, createORPCClient, getEventMeta, isInferableError } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import { RetryLinkPlugin } from '@orpc/client/plugins'

import { startServer } from '../interop/conformance-server.mjs'
import { startReference } from './reference-server.mjs'

const T = { timeout: 15_000 }

/** Reads an event iterator to its end: `{ values, metas, returned }`. */
async function drain(iterator) {
  const values = []
  const metas = []
  for (;;) {
    const r = await iterator.next()
    if (r.done) return { values, metas, returned: r.value }
    values.push(r.value)
    metas.push(getEventMeta(r.value))
  }
}

/** Reads an event iterator that must fail: `{ values, error }`. */
async function drainUntilError(iterator) {
  const values = []
  try {
    for (;;) {
      const r = await iterator.next()
      if (r.done) assert.fail(`expected an error, but the stream returned ${JSON.stringify(r.value)}`)
      values.push(r.value)
    }
  } catch (error) {
    if (error?.code === 'ERR_ASSERTION') throw error
    return { values, error }
  }
}

/** oRPC 2's error: no `status`; `defined` and `inferable` as given. */
function assertORPCError(error, { code, message, data, defined = false }) {
  assert.ok(error instanceof ORPCError, `expected an ORPCError, got ${error?.constructor?.name}: ${error}`)
  assert.equal(error.code, code)
  if (message !== undefined) assert.equal(error.message, message)
  if (data !== undefined) assert.deepEqual(error.data, data)
  assert.equal(error.defined, defined)
  assert.equal(error.inferable, defined)
  assert.equal('status' in error, false, 'oRPC 2 errors carry no status')
}

/**
 * Passes `n` whole `message` events through, then breaks the connection when the next bytes
 * arrive (not at once: an error would overtake the last event still queued in oRPC 2's
 * decoding streams). The stream must have events after the `n`th for the cut to happen.
 */
function cutAfterMessages(n) {
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let buffer = ''
  let seen = 0
  return new TransformStream({
    transform(chunk, controller) {
      if (seen === n) {
        controller.error(new TypeError('network error (cut by the test)'))
        return
      }
      buffer += decoder.decode(chunk, { stream: true })
      let end
      while (seen < n && (end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end + 2)
        buffer = buffer.slice(end + 2)
        controller.enqueue(encoder.encode(block))
        if (/^event: ?message$/m.test(block)) seen++
      }
    },
  })
}

const targets = [
  { name: 'orpc-rs /v2/rpc', start: async () => {
    const server = await startServer()
    return { url: server.url, stop: server.stop }
  } },
  { name: "oRPC 2's own server", start: startReference },
]

for (const target of targets) {
  describe(target.name, () => {
    let server
    let client

    before(async () => {
      server = await target.start()
      // As oRPC 2's docs configure RPCLink, and as the spec names it.
      server.link = { origin: server.url, url: '/v2/rpc' }
      client = createORPCClient(new RPCLink(server.link))
    })

    after(async () => {
      await server?.stop()
    })

    test('echo returns {greeting:"hello bob"}', T, async () => {
      assert.deepEqual(await client.echo({ name: 'bob' }), { greeting: 'hello bob' })
    })

    test('echo with an empty name is BAD_REQUEST "Input validation failed" with issues[0].path ["name"]', T, async () => {
      const error = await client.echo({ name: '' }).then(() => null, e => e)
      assertORPCError(error, { code: 'BAD_REQUEST', message: 'Input validation failed' })
      assert.deepEqual(error.data.issues[0].path, ['name'])
    })

    test('count n=3 yields {i:0},{i:1},{i:2} with ids and retry, and returns "done!"', T, async () => {
      const { values, metas, returned } = await drain(await client.count({ n: 3 }))
      assert.deepEqual(values.map(v => ({ ...v })), [{ i: 0 }, { i: 1 }, { i: 2 }])
      assert.deepEqual(metas.map(m => m?.id), ['0', '1', '2'])
      assert.deepEqual(metas.map(m => m?.retry), [1000, 1000, 1000])
      assert.equal(returned, 'done!')
    })

    test('count resumes after the lastEventId call option', T, async () => {
      const { values, returned } = await drain(await client.count({ n: 5 }, { lastEventId: '2' }))
      assert.deepEqual(values.map(v => v.i), [3, 4])
      assert.equal(returned, 'done!')
    })

    test('RetryLinkPlugin resumes a cut stream from last-event-id with no loss and no duplicate', T, async () => {
      const lastEventIds = []
      const link = new RPCLink({
        url: server.rpcUrl,
        ...server.link,
        // oRPC 2's fetch is called with a URL and an init, not a Request.
        fetch: async (url, init) => {
          lastEventIds.push(new Headers(init.headers).get('last-event-id'))
          const response = await fetch(url, init)
          if (lastEventIds.length !== 1) return response
          return new Response(response.body.pipeThrough(cutAfterMessages(3)), {
            status: response.status,
            headers: response.headers,
          })
        },
        plugins: [new RetryLinkPlugin({ default: { retry: 3, retryDelay: 0 } })],
      })
      const { values, returned } = await drain(await createORPCClient(link).count({ n: 8, delay_ms: 20 }))
      assert.deepEqual(values.map(v => v.i), [0, 1, 2, 3, 4, 5, 6, 7])
      assert.equal(returned, 'done!')
      assert.deepEqual(lastEventIds, [null, '2'])
    })

    test('text returns undefined: the stream closes with no data', T, async () => {
      const { values, returned } = await drain(await client.text({ items: ['a', ''] }))
      assert.deepEqual(values, ['a', ''])
      assert.equal(returned, undefined)
    })

    test('fail yields {a:1}, then an error event BAD_REQUEST "nope" {x:1}', T, async () => {
      const { values, error } = await drainUntilError(await client.fail())
      assert.deepEqual(values.map(v => ({ ...v })), [{ a: 1 }])
      assertORPCError(error, { code: 'BAD_REQUEST', message: 'nope', data: { x: 1 } })
    })

    test('limited is the defined, inferable RATE_LIMITED with status 429', T, async () => {
      const statuses = []
      const link = new RPCLink({
        ...server.link,
        fetch: async (url, init) => {
          const response = await fetch(url, init)
          statuses.push(response.status)
          return response
        },
      })
      const error = await createORPCClient(link).limited().then(() => null, e => e)
      assert.ok(isInferableError(error))
      assertORPCError(error, { code: 'RATE_LIMITED', message: 'slow down', data: { retry_after: 10 }, defined: true })
      assert.deepEqual(statuses, [429])
    })

    test('types: a bigint and a Date arrive as such, in events and in the return value', T, async () => {
      const at = new Date('2024-05-01T12:00:00.000Z')
      const { values, returned } = await drain(await client.types({ big: 9007199254740993n, at }))
      const expected = { big: 9007199254740994n, at: new Date('2024-05-02T12:00:00.000Z') }
      assert.equal(values.length, 1)
      for (const value of [values[0], returned]) {
        assert.equal(typeof value.big, 'bigint')
        assert.ok(value.at instanceof Date)
        assert.deepEqual({ ...value }, expected)
      }
    })

    test('the wire: named meta tags, `event: close` with the return value, 1.x numbers refused', T, async () => {
      const post = body => fetch(`${server.link.origin}/v2/rpc/types`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      const json = { big: '1', at: '2024-05-01T12:00:00.000Z' }
      const response = await post({ json, meta: [['bigint', 'big'], ['date', 'at']] })
      const text = await response.text()
      const close = text.split('\n\n').find(block => /^event: close$/m.test(block))
      assert.ok(close, text)
      const data = JSON.parse(close.match(/^data: (.*)$/m)[1])
      assert.deepEqual(data.meta, [['bigint', 'big'], ['date', 'at']])
      assert.equal(data.json.big, '2')
      assert.doesNotMatch(text, /^event: done$/m)

      const numbered = await post({ json, meta: [[0, 'big'], [1, 'at']] })
      assert.equal(numbered.status, 400)
    })

    test("a browser's cross-site navigation is refused by the CSRF guard, a fetch is not", T, async () => {
      // node:http, not fetch: fetch sets `sec-fetch-mode` itself.
      const call = mode => new Promise((resolve, reject) => {
        const req = http.request(`${server.link.origin}/v2/rpc/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'sec-fetch-mode': mode },
        }, res => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', chunk => { body += chunk })
          res.on('end', () => resolve({ status: res.statusCode, body }))
        })
        req.on('error', reject)
        req.end(JSON.stringify({ json: { name: 'x' } }))
      })
      const refused = await call('navigate')
      assert.equal(refused.status, 403)
      assert.deepEqual(JSON.parse(refused.body).json, {
        defined: false,
        inferable: false,
        code: 'FORBIDDEN',
        message: 'Request blocked by CSRF protection.',
      })
      assert.equal((await call('no-cors')).status, 403)
      assert.equal((await call('cors')).status, 200)
      assert.equal((await call('same-origin')).status, 200)
    })
  })
}
