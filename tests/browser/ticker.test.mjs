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

test('the API reference page lists the procedures and streams one from the browser', { timeout: 60_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } })
  page.setDefaultTimeout(15_000)
  // Nothing but the page, its document and the calls it makes: any other request fails the test.
  const requests = []
  page.on('request', r => requests.push(new URL(r.url()).pathname))
  await page.goto(`${server.url}/api/docs`)
  await page.waitForSelector('#operations[data-ready="true"]', WAIT)
  const operations = await page.$$eval('[data-testid="operation"]', s => s.map(e => e.dataset.operation))
  assert.deepEqual(operations, ['quotes'])
  assert.equal(await page.textContent('#title'), 'ticker')

  const quotes = page.locator('[data-operation="quotes"]')
  await quotes.getByRole('button', { name: 'Send' }).click()
  await page.waitForFunction(
    () => document.querySelectorAll('[data-operation="quotes"] [data-testid="event"][data-event="message"]').length >= 25,
    null,
    WAIT,
  )
  const first = await quotes.locator('[data-testid="event"]').first().textContent()
  assert.match(first, /^message: \{"symbol":"[A-Z]+","price":[0-9.]+/)
  await page.screenshot({ path: screenshotPath('reference.png') })
  await quotes.getByRole('button', { name: 'Stop' }).click()
  await page.waitForFunction(() => /stopped/.test(document.querySelector('[data-operation="quotes"] .status').textContent), null, WAIT)
  assert.deepEqual([...new Set(requests)].sort(), ['/api/docs', '/api/openapi.json', '/api/quotes'])
  await page.close()
})
