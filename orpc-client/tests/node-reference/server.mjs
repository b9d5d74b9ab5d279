// oRPC's own server (@orpc/server 1.15.3, RPCHandler on node:http) with five of the
// conformance procedures of shared/spec/conformance.md: count, fail, text, limited and types. orpc-client's
// tests run the same calls against this server and against examples/conformance.rs and expect
// the same results, so the client is checked against the reference, not only against our server.
//
//     node server.mjs [PORT]        # PORT defaults to 0: any free port
//
// Listens on 127.0.0.1 under /rpc and prints `listening on http://ADDR` once ready. It exits on
// SIGINT or SIGTERM, and when its standard input closes, so that a test that dies without
// killing it does not leave it behind.

import http from 'node:http'
import { ORPCError, os, withEventMeta } from '@orpc/server'
import { RPCHandler } from '@orpc/server/node'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const router = {
  // Yields {i} for i from start to n-1, each with id String(i) and retry 1000; start is the
  // Last-Event-ID plus one, or 0 when it is missing or not a number. Returns "done!".
  count: os.handler(async function* ({ input, lastEventId }) {
    const n = Number(input?.n ?? 0)
    const delay = Number(input?.delay_ms ?? 0)
    const last = lastEventId === undefined ? Number.NaN : Number.parseInt(lastEventId, 10)
    const start = Number.isInteger(last) && String(last) === lastEventId ? last + 1 : 0
    for (let i = start; i < n; i++) {
      yield withEventMeta({ i }, { id: String(i), retry: 1000 })
      if (delay > 0) {
        await sleep(delay)
      }
    }
    return 'done!'
  }),

  // Yields {a: 1}, then fails with BAD_REQUEST "nope" and data {x: 1}.
  fail: os.handler(async function* () {
    yield { a: 1 }
    throw new ORPCError('BAD_REQUEST', { message: 'nope', data: { x: 1 } })
  }),

  // Always fails with the defined error RATE_LIMITED (429, "slow down", data {retry_after: 10}).
  limited: os
    .errors({ RATE_LIMITED: { status: 429, message: 'slow down' } })
    .handler(async ({ errors }) => {
      throw errors.RATE_LIMITED({ data: { retry_after: 10 } })
    }),

  // Yields {big: big + 1, at: at + 1 day} once and returns the same: a bigint and a Date, which
  // oRPC's RPC serializer carries with `meta`.
  types: os.handler(async function* ({ input }) {
    const out = { big: input.big + 1n, at: new Date(input.at.getTime() + 86_400_000) }
    yield out
    return out
  }),

  // A file of `size` bytes named download.bin, byte i being i % 251.
  download: os.handler(async ({ input }) => {
    const bytes = new Uint8Array(Number(input?.size ?? 0)).map((_, i) => i % 251)
    return new File([bytes], 'download.bin', { type: 'application/octet-stream' })
  }),

  // Yields each string unchanged; returns nothing.
  text: os.handler(async function* ({ input }) {
    for (const item of input?.items ?? []) {
      yield item
    }
  }),
}

const handler = new RPCHandler(router)

const server = http.createServer(async (req, res) => {
  const { matched } = await handler.handle(req, res, { prefix: '/rpc', context: {} })
  if (!matched) {
    res.statusCode = 404
    res.end('Not found')
  }
})

const port = Number.parseInt(process.argv[2] ?? '0', 10)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node server.mjs [PORT]; got ${JSON.stringify(process.argv[2])}`)
  process.exit(2)
}

server.listen(port, '127.0.0.1', () => {
  const { address, port } = server.address()
  console.log(`listening on http://${address}:${port}`)
})

const stop = () => {
  server.close()
  server.closeAllConnections()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
