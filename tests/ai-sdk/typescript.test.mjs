// The ai_chat example's contract: `ai_chat --emit-typescript` writes it, and `tsc` type-checks
// `typed/client.ts` with it and the AI SDK's types: `chat` and `resume` yield a union assignable
// to the SDK's `UIMessageChunk`, and take its `UIMessage`s.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { AI_CHAT_BIN } from './harness.mjs'

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const generated = path.join(here, 'typed', 'generated')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

test("tsc types a client of the chat with the contract, its chunks the AI SDK's", async () => {
  mkdirSync(generated, { recursive: true })
  const contractTs = path.join(generated, 'contract.ts')
  await run(AI_CHAT_BIN, ['--emit-typescript', contractTs], { timeout: 30_000 })
  const module = readFileSync(contractTs, 'utf8')
  assert.match(module, /chat: oc\.route\(\{ method: 'POST', path: '\/chat' \}\)\.input\(type<ChatInput>\(\)\)\.output\(eventIterator\(type<Chunk>\(\)/)
  assert.doesNotMatch(module, /\bany\b/)
  const result = await run(process.execPath, [tsc, '-p', path.join(here, 'typed', 'tsconfig.json')], {
    timeout: 120_000,
  }).catch(err => err)
  assert.equal(result.code ?? 0, 0, `tsc failed:\n${result.stdout}\n${result.stderr}`)
})
