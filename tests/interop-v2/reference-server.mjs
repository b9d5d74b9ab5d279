// oRPC 2's own server (`RPCHandler` of @orpc/server 2.0.0-beta.16) with the conformance
// procedures the checks use, written as shared/spec/conformance.md describes them: the checks in
// rpc.test.mjs run against it and against orpc-rs's /v2/rpc alike, so that they test what
// oRPC 2 does, not what we think it does.

import { createServer } from 'node:http'

import { COMMON_ERROR_STATUS_MAP, ORPCError, asyncIteratorObject, os, withEventMeta } from '@orpc/server'
import { RPCHandler } from '@orpc/server/node'

/** A Standard Schema that accepts what `check` finds no issue with: no validation library. */
function schema(check) {
  return {
    '~standard': {
      version: 1,
      vendor: 'conformance',
      validate(value) {
        const issues = check(value)
        return issues.length === 0 ? { value } : { issues }
      },
    },
  }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const DAY_MS = 24 * 60 * 60 * 1000

const router = {
  echo: os
    .input(schema(v => (typeof v?.name === 'string' && v.name.length >= 1
      ? []
      : [{ message: 'name is shorter than 1 character', path: ['name'] }])))
    .handler(({ input }) => ({ greeting: `hello ${input.name}` })),

  count: os.handler(async function* ({ input, lastEventId }) {
    const parsed = Number.parseInt(lastEventId ?? '', 10)
    const start = Number.isNaN(parsed) ? 0 : parsed + 1
    for (let i = start; i < input.n; i++) {
      yield withEventMeta({ i }, { id: String(i), retry: 1000 })
      if (input.delay_ms) await sleep(input.delay_ms)
    }
    return 'done!'
  }),

  fail: os.handler(async function* () {
    yield { a: 1 }
    throw new ORPCError('BAD_REQUEST', { message: 'nope', data: { x: 1 } })
  }),

  text: os.handler(async function* ({ input }) {
    for (const item of input.items) yield item
  }),

  limited: os
    .errors({ RATE_LIMITED: { message: 'slow down' } })
    .handler(({ errors }) => {
      throw errors.RATE_LIMITED({ data: { retry_after: 10 } })
    }),

  types: os
    .output(asyncIteratorObject(schema(() => []), schema(() => [])))
    .handler(async function* ({ input }) {
      const value = { big: input.big + 1n, at: new Date(input.at.getTime() + DAY_MS) }
      yield value
      return value
    }),
}

/** Serves the procedures under /v2/rpc on a free 127.0.0.1 port: `{ url, stop }`. */
export async function startReference() {
  const handler = new RPCHandler(router, {
    // RATE_LIMITED is not one of oRPC's common codes: its status is the spec's 429.
    errorStatusMap: { ...COMMON_ERROR_STATUS_MAP, RATE_LIMITED: 429 },
  })
  const server = createServer(async (req, res) => {
    const { matched } = await handler.handle(req, res, { prefix: '/v2/rpc' })
    if (!matched) {
      res.statusCode = 404
      res.end('No procedure matched')
    }
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  return {
    url,
    stop: () => new Promise(resolve => {
      server.closeAllConnections()
      server.close(resolve)
    }),
  }
}
