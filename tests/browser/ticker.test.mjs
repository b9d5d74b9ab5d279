// examples/ticker.rs in Chromium: twenty symbols tick live, and the page links to the OpenAPI
// document, whose quote schema keeps prices positive.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { launchChromium, screenshotPath, startExample } from './harness.mjs'

const WAIT = { timeout: 15_000 }

let server
let browser

before(async () => {
  server = await startExample('ticker')
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await server?.stop()
})

test('twenty symbols tick live, and the page links to the OpenAPI document', { timeout: 60_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 840 } })
  page.setDefaultTimeout(15_000)
  await page.goto(server.url)

  await page.waitForSelector('[data-testid="connection"][data-state="connected"]', WAIT)
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="quote"]').length === 20, null, WAIT)
  // Twenty quotes on connecting, then changes: wait for well over twenty events.
  await page.waitForFunction(() => Number(document.getElementById('stream').dataset.events) >= 60, null, WAIT)
  const prices = await page.$$eval('[data-testid="quote"]', rows => rows.map(r => Number(r.dataset.price)))
  assert.ok(prices.every(p => p > 0), `prices: ${prices}`)
  await page.screenshot({ path: screenshotPath('ticker.png') })

  // The link leads to the document the router serves, with the event's schema in it.
  const link = page.getByTestId('openapi')
  assert.equal(await link.getAttribute('href'), '/api/openapi.json')
  const response = await Promise.all([page.waitForResponse(r => r.url().endsWith('/api/openapi.json')), link.click()])
    .then(([r]) => r)
  assert.equal(response.status(), 200)
  const document = await response.json()
  assert.equal(document.openapi.slice(0, 3), '3.1')
  assert.equal(document.components.schemas.Quote.properties.price.exclusiveMinimum, 0)
  await page.close()
})
