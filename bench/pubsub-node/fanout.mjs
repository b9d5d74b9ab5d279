// One oRPC EventPublisher, many subscribers of one channel, in one Node process: deliveries per
// second and the latency from just before `publish` to the subscriber's receipt of the payload.
// The Node counterpart of orpc-pubsub/benches/fanout.rs, driven the same way and printing the
// same summary.
//
//     npm ci    # at the repository's root: one npm workspace for every Node directory
//     node --expose-gc fanout.mjs --subscribers 10000 --rate 1 --seconds 30
//     node --expose-gc fanout.mjs --subscribers 10000 --rate 1 --seconds 30 --mode listener
//
// --mode iterator (default) reads each subscription as `for await (const p of
// publisher.subscribe(channel))`, as an oRPC handler does; --mode listener passes a callback
// instead. --max-buffered N sets EventPublisher's maxBufferedEvents (default: the library's).
// With --expose-gc a full GC runs before the "before" and "subscribed" RSS samples, so their
// difference counts live memory; the "at the end" sample is taken without one.
// Stops by itself after --seconds plus at most 60 s of draining.

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises'
import { EventPublisher } from '@orpc/server'

function usage(message) {
  console.error(`${message}\nusage: fanout.mjs [--subscribers N] [--rate EVENTS_PER_S] [--seconds S] [--mode iterator|listener] [--max-buffered N]`)
  process.exit(2)
}

function parseArgs(argv) {
  const args = { subscribers: 10_000, rate: 1, seconds: 30, mode: 'iterator', maxBuffered: undefined }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`)
      return argv[++i]
    }
    const integer = () => {
      const v = value()
      if (!/^\d+$/.test(v)) usage(`${arg}: not a non-negative integer: ${JSON.stringify(v)}`)
      return Number(v)
    }
    switch (arg) {
      case '--subscribers': args.subscribers = integer(); break
      case '--rate': args.rate = integer(); break
      case '--seconds': args.seconds = integer(); break
      case '--mode': args.mode = value(); break
      case '--max-buffered': {
        const v = value()
        args.maxBuffered = v === 'Infinity' ? Infinity : Number(v)
        if (!(args.maxBuffered >= 0)) usage(`--max-buffered: ${JSON.stringify(v)}`)
        break
      }
      default: usage(`unknown argument ${JSON.stringify(arg)}`)
    }
  }
  if (args.rate === 0 || args.seconds === 0 || args.subscribers === 0) {
    usage('--rate, --seconds and --subscribers must be positive')
  }
  if (args.mode !== 'iterator' && args.mode !== 'listener') {
    usage(`unknown mode ${JSON.stringify(args.mode)}: iterator or listener`)
  }
  return args
}

function packageVersion(specifier) {
  // dist/index.mjs -> package.json (the package's exports do not include package.json).
  const entry = fileURLToPath(import.meta.resolve(specifier))
  const dir = entry.slice(0, entry.lastIndexOf('/dist/'))
  return JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')).version
}

function rssMiB() {
  globalThis.gc?.()
  return process.memoryUsage().rss / (1024 * 1024)
}

function heapMiB() {
  return process.memoryUsage().heapUsed / (1024 * 1024)
}

// Same rank rule as fanout.rs: the nearest rank of p over n - 1, microseconds to milliseconds.
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const rank = Math.round((p / 100) * (sorted.length - 1))
  return sorted[Math.min(rank, sorted.length - 1)] / 1000
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const events = args.rate * args.seconds
  const channel = `bench-fanout-${process.pid}-${Date.now().toString(16)}`
  const publisher = new EventPublisher(
    args.maxBuffered === undefined ? {} : { maxBufferedEvents: args.maxBuffered },
  )

  // The slowest delivery of each event, filled in as deliveries arrive.
  const worstByEvent = new Uint32Array(events)

  const rssBefore = rssMiB()
  const heapBefore = heapMiB()

  // One record per subscriber: its latencies (µs) in arrival order, how many arrived, how many
  // it found missing (a gap in the sequence numbers: EventPublisher dropped them), when the last
  // one arrived, and how to stop it.
  const subscribers = []
  for (let s = 0; s < args.subscribers; s++) {
    const sub = {
      latencies: new Uint32Array(events),
      count: 0,
      missed: 0,
      expectSeq: 0,
      lastAt: 0,
      stop: null,
      done: null,
    }
    const receive = (payload) => {
      const now = performance.now()
      const micros = Math.min(Math.floor((now - payload.sent) * 1000), 0xFFFFFFFF)
      if (payload.seq !== sub.expectSeq) sub.missed += payload.seq - sub.expectSeq
      sub.expectSeq = payload.seq + 1
      sub.latencies[sub.count++] = micros
      if (micros > worstByEvent[payload.seq]) worstByEvent[payload.seq] = micros
      sub.lastAt = now
    }
    // A subscriber is done when its last event arrives, but stays subscribed until every one is
    // done: EventPublisher's unsubscribe splices the channel's listener array (O(n) each), and
    // 10,000 of them at the last event would be counted in that event's latency.
    let finish
    sub.done = new Promise((resolve) => { finish = resolve })
    if (args.mode === 'iterator') {
      const iterator = publisher.subscribe(channel)
      const loop = (async () => {
        for await (const payload of iterator) {
          receive(payload)
          if (sub.expectSeq >= events) finish()
        }
      })()
      sub.stop = async () => { await iterator.return(); await loop; finish() }
    } else {
      const unsubscribe = publisher.subscribe(channel, (payload) => {
        receive(payload)
        if (sub.expectSeq >= events) finish()
      })
      sub.stop = async () => { unsubscribe(); finish() }
    }
    subscribers.push(sub)
  }
  // Let every iterator reach its first pending `next()` before measuring.
  await tick()
  const rssSubscribed = rssMiB()
  const heapSubscribed = heapMiB()

  const bufferNote = args.maxBuffered === undefined ? 'default maxBufferedEvents' : `maxBufferedEvents ${args.maxBuffered}`
  console.log(
    `node EventPublisher (@orpc/server ${packageVersion('@orpc/server')}, ${args.mode} mode, ${bufferNote}, Node ${process.version}): `
    + `${args.subscribers} subscribers of one channel, ${args.rate} event(s)/s for ${args.seconds} s `
    + `(${events} events, ${events * args.subscribers} deliveries expected)`,
  )

  // Publish like tokio's interval with MissedTickBehavior::Delay: the first tick is immediate;
  // a tick more than 5 ms late moves the following ones to a period after it.
  const period = 1000 / args.rate
  const publishMicros = new Float64Array(events)
  const started = performance.now()
  let deadline = started
  for (let seq = 0; seq < events; seq++) {
    let now = performance.now()
    if (deadline > now) {
      await sleep(deadline - now)
      now = performance.now()
    }
    deadline = now > deadline + 5 ? now + period : deadline + period
    const sent = performance.now()
    const t = performance.now()
    publisher.publish(channel, { seq, sent, home: 1, away: 0 })
    publishMicros[seq] = (performance.now() - t) * 1000
  }
  const publishedIn = (performance.now() - started) / 1000
  // No forced GC here: it would run before the last event's deliveries and delay them.
  const rssPeak = process.memoryUsage.rss() / (1024 * 1024)

  // Drain: wait at most 60 s for every subscriber to have its last event, then stop the rest.
  let timer
  const drained = await Promise.race([
    Promise.all(subscribers.map((sub) => sub.done)).then(() => true),
    new Promise((resolve) => { timer = setTimeout(() => resolve(false), 60_000) }),
  ])
  clearTimeout(timer)
  let unfinished = 0
  for (const sub of subscribers) {
    if (sub.expectSeq < events) unfinished++
  }
  const unsubscribeStarted = performance.now()
  for (const sub of subscribers) await sub.stop()
  const unsubscribeMs = performance.now() - unsubscribeStarted

  let delivered = 0
  let missed = 0
  let subscribersMissing = 0
  let lastReceipt = started
  for (const sub of subscribers) {
    delivered += sub.count
    missed += sub.missed
    if (sub.missed > 0) subscribersMissing++
    if (sub.lastAt > lastReceipt) lastReceipt = sub.lastAt
  }
  const latencies = new Uint32Array(delivered)
  let offset = 0
  for (const sub of subscribers) {
    latencies.set(sub.latencies.subarray(0, sub.count), offset)
    offset += sub.count
  }
  latencies.sort()
  publishMicros.sort()
  const elapsed = (lastReceipt - started) / 1000

  console.log(
    `delivered ${delivered} of ${events * args.subscribers} (${subscribersMissing} subscribers missed ${missed} events, `
    + `${unfinished} unfinished after 60 s) in ${elapsed.toFixed(2)} s: ${(delivered / Math.max(elapsed, Number.EPSILON)).toFixed(0)} deliveries/s`,
  )
  // A publisher late by more than a period is not caught up (as with MissedTickBehavior::Delay),
  // so when the fan-out cannot keep up the publishing rate falls instead of the latency rising.
  console.log(
    `published ${events} events in ${publishedIn.toFixed(2)} s (${(events / publishedIn).toFixed(1)} events/s; `
    + `${((events - 1) / args.rate).toFixed(2)} s at the set rate)`,
  )
  console.log(
    `publish -> receipt latency: p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, `
    + `p99.9 ${percentile(latencies, 99.9).toFixed(2)} ms, max ${percentile(latencies, 100).toFixed(2)} ms`,
  )
  const slowest = Array.from(worstByEvent, (worst, event) => [worst, event])
    .sort((a, b) => b[0] - a[0] || b[1] - a[1])
    .slice(0, 3)
    .map(([worst, event]) => `#${event} ${(worst / 1000).toFixed(1)} ms`)
  console.log(`slowest events (last delivery): ${slowest.join(', ')}`)
  console.log(
    `publish call: p50 ${percentile(publishMicros, 50).toFixed(3)} ms, p99 ${percentile(publishMicros, 99).toFixed(3)} ms, `
    + `max ${percentile(publishMicros, 100).toFixed(3)} ms`,
  )
  console.log(
    `RSS: ${rssBefore.toFixed(1)} MiB before, ${rssSubscribed.toFixed(1)} MiB subscribed `
    + `(${((rssSubscribed - rssBefore) * 1024 / args.subscribers).toFixed(2)} KiB per subscriber), ${rssPeak.toFixed(1)} MiB at the end`
    + (globalThis.gc ? ' (before and subscribed after a full GC)' : ' (no --expose-gc: garbage included)'),
  )
  console.log(`unsubscribing all ${args.subscribers} afterwards: ${unsubscribeMs.toFixed(1)} ms (not in the latencies)`)
  console.log(
    `V8 heap used: ${heapBefore.toFixed(1)} MiB before, ${heapSubscribed.toFixed(1)} MiB subscribed `
    + `(${((heapSubscribed - heapBefore) * 1024 / args.subscribers).toFixed(2)} KiB per subscriber)`,
  )
}

// A hard bound on the whole run, whatever happens.
const hardLimit = setTimeout(() => {
  console.error('fanout: still running past its time limit, exiting')
  process.exit(1)
}, (parseArgs(process.argv.slice(2)).seconds + 120) * 1000)
hardLimit.unref()

main().catch((err) => {
  console.error(`fanout: ${err?.stack ?? err}`)
  process.exit(1)
})
