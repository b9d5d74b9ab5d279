// examples/live_scores.rs in Chromium: the scores change live, and after the server cuts the
// stream the page's EventSource reconnects with Last-Event-ID and resumes with no duplicate
// and no gap in the publisher's ids.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { fetchJson, launchChromium, screenshotPath, startExample } from './harness.mjs'

const WAIT = { timeout: 15_000 }

let server
let browser

before(async () => {
  server = await startExample('live_scores')
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await server?.stop()
})

/** Records the id of every event any EventSource on the page receives, independently of the
 *  page's own bookkeeping, which the test checks against it. */
function recordEventIds() {
  window.__eventIds = []
  const Native = window.EventSource
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args)
      this.addEventListener('message', e => window.__eventIds.push(e.lastEventId))
    }
  }
}

test('the scores change live, and resume after a cut with no duplicate and no gap', { timeout: 90_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } })
  page.setDefaultTimeout(15_000)
  const scoreRequests = []
  page.on('request', request => {
    if (new URL(request.url()).pathname === '/api/scores') scoreRequests.push(request)
  })
  await page.addInitScript(recordEventIds)
  await page.goto(server.url)

  const stream = page.getByTestId('stream')
  const dataset = () => stream.evaluate(el => ({ ...el.dataset }))

  // (1) Connected, six matches drawn from the snapshot, then a score changes.
  await page.waitForSelector('[data-testid="connection"][data-state="connected"]', WAIT)
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="match"]').length === 6, null, WAIT)
  const board = await page.getByTestId('matches').innerText()
  await page.waitForFunction(
    board => document.querySelector('[data-testid="matches"]').innerText !== board, board, WAIT)

  // (2) The server cuts every scores stream; the page reconnects and resumes.
  const atCut = Number((await dataset()).lastEventId)
  const cut = await fetchJson(`${server.url}/api/cut`, { method: 'POST' })
  assert.ok(cut.streams >= 1, `the cut found no open stream: ${JSON.stringify(cut)}`)
  await page.waitForFunction(() => Number(document.getElementById('stream').dataset.reconnects) >= 1, null, WAIT)
  await page.waitForSelector('[data-testid="connection"][data-state="connected"]', WAIT)

  assert.equal(scoreRequests.length, 2, 'one request for the first connection, one to resume')
  const resumedAfter = Number((await scoreRequests[1].allHeaders())['last-event-id'])
  assert.ok(resumedAfter >= atCut, `resumed after #${resumedAfter}, but #${atCut} was shown at the cut`)

  // New events after the resume, then the page's counters and footer.
  await page.waitForFunction(
    id => Number(document.getElementById('stream').dataset.lastEventId) >= id + 3, resumedAfter, { timeout: 20_000 })
  const seen = await dataset()
  assert.equal(seen.duplicates, '0', 'duplicates')
  assert.equal(seen.gaps, '0', 'gaps')
  assert.equal(seen.snapshots, '1', 'a resumed connection gets no new snapshot')
  assert.equal(await page.getByTestId('last-event-id').innerText(), `last event id: ${seen.lastEventId}`)

  // What the browser itself received: the snapshot's id, then every following id exactly once,
  // in order, across the reconnect.
  const ids = (await page.evaluate(() => window.__eventIds)).map(Number)
  assert.ok(ids.includes(resumedAfter + 1), `#${resumedAfter + 1}, the first event after the resume, was received`)
  const expected = Array.from({ length: ids.length }, (_, i) => ids[0] + i)
  assert.deepEqual(ids, expected, 'consecutive ids from the snapshot on')
  assert.equal(ids.at(-1), Number((await dataset()).lastEventId))

  await page.screenshot({ path: screenshotPath('live_scores.png') })
  await page.close()
})
