// A client of /v2/rpc typed by the conformance server's contract for oRPC 2
// (`generated/contract.ts`, written by `conformance --emit-typescript-v2`). `tsc` must accept
// every line, and must find an error on each line below a `@ts-expect-error`, or the contract is
// too loose. oRPC 2 names the client type `RouterContractClient`, and its errors have no status.
import { createORPCClient, isInferableError, safe } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import type { RouterContractClient } from '@orpc/contract'
import { contract } from './generated/contract'

declare const origin: string
const client: RouterContractClient<typeof contract> = createORPCClient(new RPCLink({ origin, url: '/v2/rpc' }))

export async function typed(): Promise<void> {
  const greeting: { greeting: string } = await client.echo({ name: 'ada' })
  void greeting

  const ticks = await client.count({ n: 3, delay_ms: 10 })
  for await (const tick of ticks) {
    const i: number = tick.i
    void i
    // @ts-expect-error an event has no such field
    void tick.j
  }
  const counted = await client.count({ n: 1 })
  const last = await counted.next()
  if (last.done) {
    const done: string = last.value
    void done
    // @ts-expect-error the return value is a string
    const wrong: number = last.value
    void wrong
  }

  // A declared error narrows its data by its code.
  const [error] = await safe(client.limited())
  if (isInferableError(error) && error.code === 'RATE_LIMITED') {
    const seconds: number = error.data.retry_after
    void seconds
    // @ts-expect-error a declared error's data has no such field
    void error.data.nope
  }

  // A bigint and a Date, as oRPC's RPC serializer carries them.
  for await (const value of await client.types({ big: 1n, at: new Date() })) {
    const big: bigint = value.big
    const at: Date = value.at
    void big
    void at
    // @ts-expect-error a bigint is not a number
    const rounded: number = value.big
    void rounded
  }

  // Files: an upload takes a File, a download is one.
  const uploaded: { size: number; sha256: string } = await client.upload({ name: 'a', file: new File(['x'], 'a.txt') })
  void uploaded
  const downloaded: File = await client.download({ size: 3 })
  void downloaded
  // @ts-expect-error a file field takes a File, not a string
  await client.upload({ name: 'a', file: 'not a file' })

  // @ts-expect-error a wrong input type
  await client.count({ n: 'three' })
  // @ts-expect-error a missing input
  await client.echo()
  // @ts-expect-error an unknown procedure
  await client.nope()
}
