// A client typed by the ai_chat example's contract (`generated/contract.ts`, written by
// `ai_chat --emit-typescript`), used as a chat front-end would use it with the AI SDK. `tsc` must
// accept every line, and find an error on each line below a `@ts-expect-error`.
import { createORPCClient } from '@orpc/client'
import { RPCLink } from '@orpc/client/fetch'
import type { ContractRouterClient } from '@orpc/contract'
import type { UIMessage, UIMessageChunk } from 'ai'
import { contract } from './generated/contract'

declare const url: string
const client: ContractRouterClient<typeof contract> = createORPCClient(new RPCLink({ url }))

export async function typed(messages: UIMessage[]): Promise<string> {
  let text = ''
  // The AI SDK's own messages are `chat`'s input.
  for await (const chunk of await client.chat({ chatId: 'c1', messages })) {
    // Each event is one of the AI SDK's chunks.
    const forTheSdk: UIMessageChunk = chunk
    void forTheSdk
    if (chunk.type === 'text-delta') text += chunk.delta
    // @ts-expect-error a start chunk has no delta
    if (chunk.type === 'start') text += chunk.delta
  }
  for await (const chunk of await client.resume({ chatId: 'c1' })) {
    if (chunk.type === 'error') text += chunk.errorText
  }
  const stopped: boolean = (await client.stop({ chatId: 'c1' })).stopped
  void stopped
  // @ts-expect-error resume needs the chat's id
  await client.resume({})
  // @ts-expect-error a role the AI SDK does not have
  await client.chat({ chatId: 'c1', messages: [{ role: 'robot', parts: [] }] })
  return text
}
