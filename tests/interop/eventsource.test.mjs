// A WHATWG EventSource (the `eventsource` npm package) against the conformance
// server's OpenAPI GET routes, plus the server's cleanup and shutdown behaviour.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { EventSource } from 'eventsource'

import { pollUntil, postJson, startServer, withTimeout } from './conformance-server.mjs'

const T = { timeout: 15_000 }

let server

before(async () => {
  server = await startServer()
})

after(async () => {
  await server?.stop()
})

test('EventSource on GET /api/count?n=3 gets 3 messages with lastEventId and a "done" event', T, async () => {
  const es = new EventSource(`${server.apiUrl}/count?n=3&delay_ms=0`)
  const messages = []
  const errors = []
  try {
    const done = await withTimeout(new Promise(resolve => {
      es.onmessage = e => messages.push({ data: e.data, lastEventId: e.lastEventId })
      es.onerror = e => errors.push(`${e.type} ${e.code ?? ''} ${e.message ?? ''}`)
      es.addEventListener('done', e => {
        es.close()
        resolve({ data: e.data, lastEventId: e.lastEventId })
      })
    }), 5_000, 'the "done" event')

    assert.deepEqual(messages, [
      { data: '{"i":0}', lastEventId: '0' },
      { data: '{"i":1}', lastEventId: '1' },
      { data: '{"i":2}', lastEventId: '2' },
    ])
    assert.equal(done.data, '"done!"')
    assert.equal(JSON.parse(done.data), 'done!')
    assert.deepEqual(errors, [])
    assert.equal(es.readyState, EventSource.CLOSED)
  } finally {
    es.close()
  }
})

test('EventSource closed after 3 messages of GET /api/forever: the server cleans the stream up', T, async () => {
  const before = await postJson(`${server.apiUrl}/stats`)
  assert.equal(before.cleaned, before.started, `streams left open before this test: ${JSON.stringify(before)}`)

  const es = new EventSource(`${server.apiUrl}/forever?interval_ms=50`)
  const messages = []
  try {
    await withTimeout(new Promise((resolve, reject) => {
      es.onmessage = e => {
        messages.push(e.data)
        if (messages.length === 3) {
          es.close()
          resolve()
        }
      }
      es.onerror = e => reject(new Error(`EventSource error: ${e.message ?? e.type}`))
    }), 5_000, '3 messages from /api/forever')
  } finally {
    es.close()
  }
  assert.deepEqual(messages, ['{"tick":0}', '{"tick":1}', '{"tick":2}'])

  const stats = await pollUntil(
    () => postJson(`${server.apiUrl}/stats`),
    s => s.started === before.started + 1 && s.cleaned === s.started,
    2_000,
  )
  assert.equal(stats.started, before.started + 1, JSON.stringify({ before, stats }))
  assert.equal(stats.cleaned, stats.started, `no cleanup within 2 s of the client closing: ${JSON.stringify(stats)}`)
})

test('SIGTERM with an open stream: the stream ends and the server exits 0 within 2 s', T, async () => {
  const own = await startServer()
  try {
    const res = await fetch(`${own.apiUrl}/forever?interval_ms=50`, { signal: AbortSignal.timeout(10_000) })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const reader = res.body.getReader()
    const first = await withTimeout(reader.read(), 5_000, 'first chunk of /api/forever')
    assert.equal(first.done, false)

    const drained = (async () => {
      // Read until the server ends the stream (or the connection breaks).
      try {
        while (!(await reader.read()).done) { /* keep reading */ }
      } catch { /* a reset connection also ends it */ }
    })()
    const exit = await own.stop()
    await withTimeout(drained, 2_000, 'the open stream to end after SIGTERM')

    assert.equal(exit.signal, null, `server died from signal ${exit.signal}`)
    assert.equal(exit.code, 0)
    assert.ok(exit.ms <= 2_500, `server took ${exit.ms} ms to exit after SIGTERM (spec: within 2 s)`)
  } finally {
    await own.stop().catch(() => {})
  }
})
