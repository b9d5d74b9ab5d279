// oRPC's IORedisPublisher as one side of a mixed fleet, driven by
// orpc-pubsub/tests/orpc_compatible.rs. One run does one thing, then exits:
//
//   node peer.mjs publish   --prefix P --event E --retention S --from N --count C
//   node peer.mjs subscribe --prefix P --event E --retention S --count C [--last-event-id ID]
//
// `publish` sends events N..N+C-1 as `{ i, big: BigInt, at: Date }` with event meta (retry on
// every event, a comment on every other one), awaiting each publish, and prints `published C`.
// `subscribe` iterates `publisher.subscribe(event, { lastEventId })`, prints `ready` once Redis
// acknowledged its SUBSCRIBE and oRPC's listener for it is in place, then one JSON line per
// event (its id, `i`, whether `big` and `at` came back as a bigint and a Date, retry and
// comments), and exits after C events. An error ending the iterator is printed as
// `{"error": ...}` with exit status 3. Every run is bounded: it exits with status 2 after
// --timeout-ms (default 30 s). Redis is REDIS_URL, on loopback.
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { IORedisPublisher } from '@orpc/experimental-publisher/ioredis'
import Redis from 'ioredis'

// Event meta is keyed by a symbol private to each copy of @orpc/standard-server: use the copy
// the publisher itself imports, not whichever one a bare import would find.
const publisherEntry = createRequire(import.meta.url).resolve('@orpc/experimental-publisher')
const standardServer = createRequire(publisherEntry).resolve('@orpc/standard-server')
const { withEventMeta, getEventMeta } = await import(pathToFileURL(standardServer).href)

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'prefix': { type: 'string' },
    'event': { type: 'string' },
    'retention': { type: 'string' },
    'from': { type: 'string', default: '0' },
    'count': { type: 'string' },
    'last-event-id': { type: 'string' },
    'timeout-ms': { type: 'string', default: '30000' },
  },
})
const [mode] = positionals
const prefix = values.prefix
const event = values.event
const count = Number(values.count)
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const deadline = setTimeout(() => {
  console.log(JSON.stringify({ error: `timed out after ${values['timeout-ms']} ms` }))
  process.exit(2)
}, Number(values['timeout-ms']))
deadline.unref()

const connect = () => new Redis(url, { maxRetriesPerRequest: 1 })
const commander = connect()
const listener = connect()
// Both connections ready before anything is sent. ioredis writes a SUBSCRIBE while still
// connecting (Redis allows it then), and the INFO of its own ready check, sent after it, is then
// refused in subscriber mode: ioredis reports that as an `error` event on the listener, which
// oRPC's publisher passes to the subscriber's iterator, ending it.
const ready = redis => redis.status === 'ready' ? null : new Promise(resolve => redis.once('ready', resolve))
await Promise.all([ready(commander), ready(listener)])
const publisher = new IORedisPublisher({
  commander,
  listener,
  prefix,
  resumeRetentionSeconds: Number(values.retention),
})

function payload(i) {
  const value = {
    i,
    big: 9007199254740993n + BigInt(i),
    at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, i % 1000)),
  }
  const comments = i % 2 === 0 ? [`from node ${i}`] : []
  return withEventMeta(value, { retry: 1000 + i, comments })
}

async function publish() {
  const from = Number(values.from)
  for (let i = from; i < from + count; i++) {
    await publisher.publish(event, payload(i))
  }
  console.log(`published ${count}`)
}

async function subscribe() {
  const lastEventId = values['last-event-id']
  // Every event must come through: the iterator's buffer drops the oldest beyond 100 by default,
  // and a replay or a burst of notifications arrives in one go.
  const key = `${prefix}${event}`
  // Ready once this process's own SUBSCRIBE is in: one more subscriber than before, since other
  // subscribers (another peer of the same test) may be on the channel already.
  const [, before] = await commander.pubsub('NUMSUB', key)
  const events = publisher.subscribe(event, { lastEventId, maxBufferedEvents: 100_000 })
  for (let tries = 0; ; tries++) {
    const [, subscribers] = await commander.pubsub('NUMSUB', key)
    if (subscribers > before) break
    if (tries > 500) throw new Error(`no SUBSCRIBE on ${key}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  // Redis counts the subscriber once it has sent the SUBSCRIBE reply, but oRPC registers its
  // channel listener only in a promise continuation after ioredis parsed that reply; a message
  // parsed in the same read, before that continuation ran, finds no listener and is dropped.
  // A PING on the listener is answered after the SUBSCRIBE reply, and by the next macrotask every
  // continuation of that reply has run.
  await listener.ping()
  await new Promise(resolve => setImmediate(resolve))
  console.log('ready')
  let received = 0
  try {
    for await (const value of events) {
      const meta = getEventMeta(value) ?? {}
      console.log(JSON.stringify({
        id: meta.id,
        i: value.i,
        big: typeof value.big === 'bigint' ? value.big.toString() : null,
        at: value.at instanceof Date ? value.at.toISOString() : null,
        retry: meta.retry ?? null,
        comments: meta.comments ?? [],
      }))
      if (++received === count) break
    }
  } catch (error) {
    console.log(JSON.stringify({ error: String(error?.message ?? error) }))
    process.exitCode = 3
  }
}

try {
  if (mode === 'publish') await publish()
  else if (mode === 'subscribe') await subscribe()
  else throw new Error(`unknown mode ${mode}; see the comment at the top`)
} finally {
  commander.disconnect()
  listener.disconnect()
}
