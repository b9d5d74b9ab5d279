// The official oRPC OpenAPI client (OpenAPILink from @orpc/openapi-client/fetch,
// 1.15.3) with a contract built by `oc` from @orpc/contract, against the
// conformance server's OpenAPI protocol at /api/...

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { createORPCClient, getEventMeta, ORPCError } from '@orpc/client'
import { eventIterator, oc } from '@orpc/contract'
import { OpenAPILink } from '@orpc/openapi-client/fetch'

import { pollUntil, startServer } from './conformance-server.mjs'

const T = { timeout: 15_000 }

/**
 * A tiny Standard Schema (https://standardschema.dev) object, so the
 * contract needs no schema library. `check(value)` returns an error
 * message or undefined.
 */
function schema(check) {
  return {
    '~standard': {
      version: 1,
      vendor: 'orpc-rs-interop',
      validate(value) {
        const message = check(value)
        return message === undefined ? { value } : { issues: [{ message, path: [] }] }
      },
    },
  }
}
const isObject = v => typeof v === 'object' && v !== null && !Array.isArray(v)
const countEvent = schema(v => (isObject(v) && Number.isInteger(v.i) ? undefined : 'expected {i: integer}'))
const doneString = schema(v => (typeof v === 'string' ? undefined : 'expected a string'))

const contract = {
  count: oc
    .route({ method: 'GET', path: '/count' })
    .output(eventIterator(countEvent, doneString)),
  forever: oc
    .route({ method: 'GET', path: '/forever' })
    .output(eventIterator()),
  fail: oc
    .route({ method: 'POST', path: '/fail' })
    .output(eventIterator()),
  text: oc
    .route({ method: 'POST', path: '/text' })
    .output(eventIterator()),
  echo: oc.route({ method: 'POST', path: '/echo' }),
  stats: oc.route({ method: 'POST', path: '/stats' }),
}

let server
let client

before(async () => {
  server = await startServer()
  client = createORPCClient(new OpenAPILink(contract, { url: server.apiUrl }))
})

after(async () => {
  await server?.stop()
})

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

test('GET /count yields {i:0},{i:1},{i:2} with id/retry meta and returns "done!"', T, async () => {
  const { values, metas, returned } = await drain(await client.count({ n: 3, delay_ms: 0 }))
  assert.deepEqual(values.map(v => ({ ...v })), [{ i: 0 }, { i: 1 }, { i: 2 }])
  assert.deepEqual(metas.map(m => m?.id), ['0', '1', '2'])
  assert.deepEqual(metas.map(m => m?.retry), [1000, 1000, 1000])
  assert.equal(returned, 'done!')
})

test('GET /count honours last-event-id', T, async () => {
  const { values, returned } = await drain(await client.count({ n: 4 }, { lastEventId: '1' }))
  assert.deepEqual(values.map(v => ({ ...v })), [{ i: 2 }, { i: 3 }])
  assert.equal(returned, 'done!')
})

test('POST /echo returns {greeting:"hello bob"}', T, async () => {
  assert.deepEqual(await client.echo({ name: 'bob' }), { greeting: 'hello bob' })
})

test('POST /echo with an empty name is BAD_REQUEST "Input validation failed"', T, async () => {
  const error = await client.echo({ name: '' }).then(
    v => assert.fail(`expected an error, got ${JSON.stringify(v)}`),
    e => e,
  )
  assert.ok(error instanceof ORPCError, `expected an ORPCError, got ${error}`)
  assert.equal(error.code, 'BAD_REQUEST')
  assert.equal(error.status, 400)
  assert.equal(error.message, 'Input validation failed')
  assert.deepEqual(error.data?.issues?.[0]?.path, ['name'])
})

test('POST /fail yields {a:1} then throws BAD_REQUEST 400 "nope" {x:1}', T, async () => {
  const it = await client.fail()
  const first = await it.next()
  assert.deepEqual({ ...first.value }, { a: 1 })
  assert.equal(first.done, false)
  const error = await it.next().then(
    r => assert.fail(`expected an error, got ${JSON.stringify(r)}`),
    e => e,
  )
  assert.ok(error instanceof ORPCError, `expected an ORPCError, got ${error}`)
  assert.equal(error.code, 'BAD_REQUEST')
  assert.equal(error.status, 400)
  assert.equal(error.message, 'nope')
  assert.deepEqual(error.data, { x: 1 })
  assert.equal(error.defined, false)
})

test('POST /text yields strings unchanged; the unit return arrives as null (event: done, data: null)', T, async () => {
  const items = ['a\nb', 'x\r\ny', '', 'ü€😀']
  const { values, returned } = await drain(await client.text({ items }))
  assert.deepEqual(values, items)
  // The conformance spec sends `event: done` + `data: null` for a unit return on the OpenAPI side.
  assert.equal(returned, null)
})

test('GET /forever: the client stops reading with return()', T, async () => {
  const it = await client.forever({ interval_ms: 20 })
  const ticks = []
  for (let k = 0; k < 3; k++) ticks.push({ ...(await it.next()).value })
  await it.return()
  assert.deepEqual(ticks, [{ tick: 0 }, { tick: 1 }, { tick: 2 }])
})

test('POST /stats: cleaned === started after all the streams', T, async () => {
  const stats = await pollUntil(() => client.stats(), s => s.cleaned === s.started)
  // count x2, fail, text, forever
  assert.equal(stats.started, 5, JSON.stringify(stats))
  assert.equal(stats.cleaned, stats.started, JSON.stringify(stats))
})
