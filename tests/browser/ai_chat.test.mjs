// examples/ai_chat (its scripted model) in Chromium: a reply survives a reload mid-answer, shown
// whole and exactly once, as the server has it; Stop ends the next one on the server.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { launchChromium, screenshotPath, startExample } from './harness.mjs'

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

/** The chat's last reply as the server has it: `resume` without an id, its deltas joined. */
async function replyOnServer(chatId) {
  const response = await fetch(`${server.url}/rpc/resume`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: { chatId } }),
    signal: AbortSignal.timeout(10_000),
  })
  const chunks = (await response.text())
    .split('\n\n')
    .filter(block => block.startsWith('event: message'))
    .map(block => JSON.parse(block.split('\n').find(line => line.startsWith('data: ')).slice(6)).json)
  return {
    text: chunks.filter(c => c.type === 'text-delta').map(c => c.delta).join(''),
    last: chunks.at(-1),
  }
}

const deltas = (page, n) => page.getByTestId('reply').nth(n).getAttribute('data-deltas').then(Number)

test('a reply survives a reload exactly once, and Stop ends the next one', { timeout: 90_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } })
  page.setDefaultTimeout(15_000)
  await page.goto(server.url)
  const chatId = await page.getByTestId('chat-id').innerText()

  await page.getByTestId('prompt').fill('What is an event iterator?')
  await page.getByTestId('send').click()
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid="reply"]')?.dataset.deltas) >= 8, null, WAIT)
  const before = await page.getByTestId('reply').first().innerText()

  // Reload mid-answer: the page shows the reply again from its start, and it goes on live.
  await page.reload()
  const reply = page.getByTestId('reply').first()
  await page.waitForFunction(
    () => document.querySelector('[data-testid="reply"]')?.dataset.state === 'done', null, WAIT)
  const shown = await reply.innerText()
  const onServer = await replyOnServer(chatId)
  assert.equal(onServer.last.type, 'finish')
  assert.equal(shown, onServer.text, 'the page shows the reply exactly: no word twice, none missing')
  assert.ok(shown.startsWith(before.trim()), `${shown} starts with ${before}`)
  assert.ok(shown.length > before.length + 20)
  assert.equal(await page.getByTestId('reply').count(), 1)
  await page.screenshot({ path: screenshotPath('ai_chat.png') })

  // Stop after a few words: the reply ends there, on the server too.
  await page.getByTestId('prompt').fill('Tell me more')
  await page.getByTestId('send').click()
  await page.waitForFunction(
    () => Number(document.querySelectorAll('[data-testid="reply"]')[1]?.dataset.deltas) >= 5, null, WAIT)
  await page.getByTestId('stop').click()
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="reply"]')[1]?.dataset.state === 'stopped', null, WAIT)
  assert.equal(await page.getByTestId('summary').last().getAttribute('data-kind'), 'stopped')
  const stopped = await replyOnServer(chatId)
  assert.deepEqual(stopped.last, { type: 'finish', finishReason: 'other' })
  assert.equal(await page.getByTestId('reply').nth(1).innerText(), stopped.text)
  assert.ok(stopped.text.length < shown.length, 'stopped before the end')
  assert.ok(await deltas(page, 1) >= 5)

  // A reload now shows both replies from storage, neither twice.
  await page.reload()
  await page.getByTestId('reply').nth(1).waitFor(WAIT)
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.equal(await page.getByTestId('reply').count(), 2)
  assert.equal(await page.getByTestId('reply').nth(1).innerText(), stopped.text)
  await page.close()
})
