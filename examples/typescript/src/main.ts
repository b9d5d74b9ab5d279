// A TypeScript client of the conformance server (`cargo run --example conformance`), typed end to
// end by `src/contract.ts`, which orpc-rs generates from the server's schemas:
//
//     npm run generate    # writes src/contract.ts again, after a procedure's types change
//     npm run check       # tsc: the client agrees with the contract
//     npm start           # runs this file against ORPC_URL (default http://127.0.0.1:8787/rpc)
import { createORPCClient, isDefinedError, safe } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import type { ContractRouterClient } from '@orpc/contract'
import { createTanstackQueryUtils } from '@orpc/tanstack-query'
import { QueryClient } from '@tanstack/query-core'

import { contract } from './contract'

const url = process.env.ORPC_URL ?? 'http://127.0.0.1:8787/rpc'
const client: ContractRouterClient<typeof contract> = createORPCClient(new RPCLink({ url }))

// A plain procedure: the input and the answer are typed.
const { greeting } = await client.echo({ name: 'TypeScript' })
console.log(greeting)

// An event iterator, read to its end; `tick` is `{ i: number }`, the done value a string.
const ticks = await client.count({ n: 3 })
for (;;) {
  const next = await ticks.next()
  if (next.done) {
    console.log(`done: ${next.value}`)
    break
  }
  console.log(`tick ${next.value.i}`)
}

// A declared error: `isDefinedError` narrows `error.data` to `{ retry_after: number }`.
const [error] = await safe(client.limited())
if (isDefinedError(error) && error.code === 'RATE_LIMITED') {
  console.log(`rate limited: retry after ${error.data.retry_after} s`)
}

// TanStack Query: a streamed query gathers a stream's events into an array.
const orpc = createTanstackQueryUtils(client)
const queryClient = new QueryClient()
const streamed = await queryClient.fetchQuery(orpc.count.experimental_streamedOptions({ input: { n: 4 } }))
console.log(`streamed: ${streamed.map(tick => tick.i).join(', ')}`)
