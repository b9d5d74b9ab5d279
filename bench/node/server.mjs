// The Node reference server of bench/run: oRPC's own server (@orpc/server 1.15.3 with
// @orpc/openapi's OpenAPIHandler on node:http), serving `count` and `forever` the way
// examples/conformance.rs does under its OpenAPI protocol, so that one load generator command
// drives both:
//
//     GET /api/count?n=N&delay_ms=D     {i} for i in 0..N, id i, retry 1000, then done "done!"
//     GET /api/forever?interval_ms=T    {tick} every T ms until the client leaves
//     /ws                               the same procedures over oRPC's WebSocket transport
//                                       (@orpc/server/ws's RPCHandler on the `ws` package), for
//                                       benches/websocket.rs
//
//     node server.mjs --port P          # P defaults to 0: any free port
//
// Listens on 127.0.0.1 and prints `listening on http://127.0.0.1:P` once ready. Exits on SIGINT
// or SIGTERM, and when its standard input closes, so that a dead bench/run leaves nothing behind.

import http from 'node:http'
import { OpenAPIHandler } from '@orpc/openapi/node'
import { os, withEventMeta } from '@orpc/server'
import { RPCHandler } from '@orpc/server/ws'
import { WebSocketServer } from 'ws'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// The query string arrives as strings: with no schema there is no coercion, so numbers are
// parsed here, as the Rust server's schema does.
const number = (value, fallback) => {
  const parsed = Number(value ?? fallback)
  return Number.isFinite(parsed) ? parsed : fallback
}

const router = {
  // Same semantics as the conformance server's count: start after a numeric Last-Event-ID.
  count: os
    .route({ method: 'GET', path: '/count' })
    .handler(async function* ({ input, lastEventId }) {
      const n = number(input?.n, 0)
      const delay = number(input?.delay_ms, 0)
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

  // Ticks every interval_ms until the client leaves; the memory scenario holds these idle.
  forever: os
    .route({ method: 'GET', path: '/forever' })
    .handler(async function* ({ input }) {
      const interval = Math.max(1, number(input?.interval_ms, 1000))
      for (let tick = 0; ; tick++) {
        await sleep(interval)
        yield { tick }
      }
    }),
}

const handler = new OpenAPIHandler(router)

const server = http.createServer(async (req, res) => {
  const { matched } = await handler.handle(req, res, { prefix: '/api', context: {} })
  if (!matched) {
    res.statusCode = 404
    res.end('Not found')
  }
})

const wsHandler = new RPCHandler(router)
const sockets = new WebSocketServer({ server, path: '/ws' })
sockets.on('connection', ws => wsHandler.upgrade(ws, { context: {} }))

function parsePort(argv) {
  let port = 0
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--port' && k + 1 < argv.length) {
      port = Number.parseInt(argv[++k], 10)
    } else {
      console.error(`usage: node server.mjs [--port P]; unexpected ${JSON.stringify(argv[k])}`)
      process.exit(2)
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('--port must be an integer from 0 to 65535')
    process.exit(2)
  }
  return port
}

server.listen(parsePort(process.argv.slice(2)), '127.0.0.1', () => {
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
