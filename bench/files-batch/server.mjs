// The Node reference of bench/files-batch: oRPC's own server (@orpc/server 1.15.3, RPCHandler
// with BatchHandlerPlugin on node:http) serving `echo` and `upload` as examples/conformance.rs
// does under /rpc.
//
//     node server.mjs                   # listens on a free 127.0.0.1 port
//
// Prints `listening on http://127.0.0.1:P` once ready; exits on SIGINT or SIGTERM and when its
// standard input closes, so that a dead run leaves nothing behind.

import { createHash } from 'node:crypto'
import http from 'node:http'
import { os } from '@orpc/server'
import { RPCHandler } from '@orpc/server/node'
import { BatchHandlerPlugin } from '@orpc/server/plugins'

const router = {
  echo: os.handler(async ({ input }) => ({ greeting: `hello ${input.name}` })),
  // Describes the upload as the conformance server's `upload` does, its SHA-256 included.
  upload: os.handler(async ({ input }) => {
    const bytes = new Uint8Array(await input.file.arrayBuffer())
    return {
      name: input.name,
      file_name: input.file.name,
      size: bytes.length,
      type: input.file.type,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    }
  }),
}

const handler = new RPCHandler(router, { plugins: [new BatchHandlerPlugin()] })

const server = http.createServer(async (req, res) => {
  const { matched } = await handler.handle(req, res, { prefix: '/rpc', context: {} })
  if (!matched) {
    res.statusCode = 404
    res.end('Not found')
  }
})

server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
})
const stop = () => server.close(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()
