// examples/ai_chat.rs in Chromium: a reply streams in and ends with its summary; Stop cancels
// the next one mid-reply, and the server's cleanup for it runs.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { fetchJson, launchChromium, pollUntil, screenshotPath, startExample } from './harness.mjs'

const WAIT = { timeout: 15_000 }

let server
let browser

before(async () => {
  server = await startExample('ai_chat')
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await server?.stop()
})

test('a reply streams to its summary, and Stop cancels the next one on the server', { timeout: 90_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } })
  page.setDefaultTimeout(15_000)
  await page.goto(server.url)
  const stats = () => fetchJson(`${server.url}/api/stats`)

  // A whole reply: tokens, then the `done` value as a summary line.
  await page.getByTestId('prompt').fill('What is an event iterator?')
  await page.getByTestId('send').click()
  const summaries = page.getByTestId('summary')
  await summaries.first().waitFor(WAIT)
  assert.equal(await summaries.first().getAttribute('data-kind'), 'done')
  const [, tokens] = (await summaries.first().innerText()).match(/^(\d+) tokens in \d+\.\d s$/) ?? []
  assert.ok(Number(tokens) > 20, `summary: ${await summaries.first().innerText()}`)
  assert.equal(await page.getByTestId('reply').first().getAttribute('data-tokens'), tokens)
  const completed = await pollUntil(stats, s => s.cleanups === 1)
  assert.deepEqual(completed, { cleanups: 1, cancelled: 0 })

  // Stop after a few tokens: the fetch is aborted, and the server's cleanup runs.
  await page.getByTestId('prompt').fill('Tell me more')
  await page.getByTestId('send').click()
  await page.waitForFunction(
    () => Number(document.querySelectorAll('[data-testid="reply"]')[1]?.dataset.tokens) >= 5, null, WAIT)
  await page.getByTestId('stop').click()
  await summaries.nth(1).waitFor(WAIT)
  assert.equal(await summaries.nth(1).getAttribute('data-kind'), 'stopped')
  const stopped = Number((await summaries.nth(1).innerText()).match(/^stopped after (\d+) tokens$/)?.[1])
  assert.ok(stopped >= 5 && stopped < Number(tokens), `stopped after ${stopped} of ${tokens} tokens`)

  const cancelled = await pollUntil(stats, s => s.cleanups === 2, 5_000)
  assert.deepEqual(cancelled, { cleanups: 2, cancelled: 1 }, 'the stopped stream cleaned up')
  assert.match(server.output().stdout, /cleanup: chat stream ended after \d+ tokens \(cancelled\)/)

  // The page refreshes its stats line a moment after a stream ends.
  await page.waitForFunction(
    () => document.querySelector('[data-testid="cleanups"]').textContent.startsWith('2'), null, WAIT)
  await page.screenshot({ path: screenshotPath('ai_chat.png') })
  await page.close()
})
