// The AI SDK's own reader assembles the example's replies: `readUIMessageStream` from `ai` over
// oRPC's `RPCLink` and `eventIteratorToUnproxiedDataStream`, as oRPC's AI SDK guide connects them,
// for a whole reply and for a reloaded page's `resume` without an id (the whole reply again). A
// client cut off halfway resumes with its last event id and gets the rest of the chunks, exactly
// once.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { createORPCClient, eventIteratorToUnproxiedDataStream, getEventMeta } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import { readUIMessageStream } from 'ai'

import { TEXT, startExample, startMock } from './harness.mjs'

let mock
let server
let client

before(async () => {
  mock = await startMock()
  server = await startExample(['--upstream', mock.base, '--model', 'mock'])
  client = createORPCClient(new RPCLink({ url: `${server.url}/rpc` }))
})

after(async () => {
  server?.stop()
  await mock?.close()
})

const ask = text => [{ id: 'u1', role: 'user', parts: [{ type: 'text', text }] }]

/** The last message `readUIMessageStream` builds from `iterator`. */
async function assemble(iterator) {
  let last
  for await (const built of readUIMessageStream({ stream: eventIteratorToUnproxiedDataStream(iterator) })) {
    last = built
  }
  return last
}

const textOf = message => message.parts.filter(p => p.type === 'text').map(p => p.text).join('')

test("the AI SDK's reader assembles exactly the upstream's text", async () => {
  const chatId = `whole-${process.pid}`
  const message = await assemble(await client.chat({ chatId, messages: ask('Hello?') }))
  assert.equal(message.role, 'assistant')
  assert.equal(textOf(message), TEXT)
  assert.equal(message.parts.find(p => p.type === 'text').state, 'done')
})

test('a reply cut off halfway and resumed with its last event id: the rest, exactly once', async () => {
  const chatId = `cut-${process.pid}`
  const deltas = chunks => chunks.filter(c => c.type === 'text-delta').map(c => c.delta).join('')
  // About half the reply, and the last event id oRPC's client saw; leaving the loop cancels the
  // request, as a lost connection would.
  const first = []
  let lastEventId
  for await (const chunk of await client.chat({ chatId, messages: ask('Hello?') })) {
    first.push(chunk)
    lastEventId = getEventMeta(chunk)?.id ?? lastEventId
    if (deltas(first).length >= TEXT.length / 2) break
  }
  assert.ok(lastEventId, 'each chunk carries its event id')
  const rest = []
  for await (const chunk of await client.resume({ chatId }, { lastEventId })) rest.push(chunk)
  assert.equal(deltas(first) + deltas(rest), TEXT)
  assert.equal(rest.at(-1).type, 'finish')
  assert.ok(!rest.some(c => c.type === 'start'), 'the rest only')
})

test("a reloaded page's resume, without an id, gives the whole reply again", async () => {
  const chatId = `reload-${process.pid}`
  const first = await assemble(await client.chat({ chatId, messages: ask('Hello?') }))
  const again = await assemble(await client.resume({ chatId }))
  assert.equal(textOf(again), TEXT)
  assert.equal(again.id, first.id)
  // A chat with no reply: the iterator ends at once, with nothing.
  const nothing = []
  for await (const chunk of await client.resume({ chatId: `none-${process.pid}` })) nothing.push(chunk)
  assert.deepEqual(nothing, [])
})
