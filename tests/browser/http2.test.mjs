// Ten live streams in one Chromium tab: over HTTPS (HTTP/2, one connection) all ten receive
// events at once; over plain HTTP/1.1 the browser's six-connection limit leaves four waiting,
// which is what shows this test can tell the two apart. Closing one EventSource over HTTP/2
// resets its stream, and the server runs that stream's cleanup.
//
// The conformance server is started with the self-signed pair that `cargo test --test browser`
// writes and names in TLS_CERT and TLS_KEY; the browser context ignores certificate errors.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { launchChromium, sleep, startExample } from './harness.mjs'

const { TLS_CERT, TLS_KEY } = process.env
const skip = !(TLS_CERT && TLS_KEY) && 'TLS_CERT and TLS_KEY are not set (cargo test --test browser sets them)'

let browser
before(async () => { browser = await launchChromium() })
after(async () => { await browser?.close() })

/** Opens ten EventSources on `forever` in a page of `url`'s origin; after `ms`, how many ticked. */
async function tenStreams(page, url, ms) {
  await page.goto(`${url}/api/openapi.json`)
  return page.evaluate(async ms => {
    window.sources = []
    const ticked = new Set()
    for (let i = 0; i < 10; i++) {
      const source = new EventSource(`/api/forever?interval_ms=100&stream=${i}`)
      source.onmessage = () => ticked.add(i)
      window.sources.push(source)
    }
    await new Promise(resolve => setTimeout(resolve, ms))
    return ticked.size
  }, ms)
}

/** The conformance server's stream counters, from inside the page. */
function stats(page) {
  return page.evaluate(async () => (await (await fetch('/rpc/stats', { method: 'POST' })).json()).json)
}

test('ten EventSources in one tab: all live over HTTP/2, six over HTTP/1.1', { skip, timeout: 60_000 }, async () => {
  const tls = await startExample('conformance', ['--tls-cert', TLS_CERT, '--tls-key', TLS_KEY])
  const plain = await startExample('conformance')
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true })
    const page = await context.newPage()
    assert.equal(await tenStreams(page, tls.url, 3_000), 10, 'over HTTP/2 every stream ticks')
    const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol)
    assert.equal(protocol, 'h2')

    // Closing one EventSource resets its stream; the server cleans it up.
    const before = await stats(page)
    await page.evaluate(() => window.sources[3].close())
    const deadline = Date.now() + 1_500
    let now = await stats(page)
    while (now.cleaned < before.cleaned + 1 && Date.now() < deadline) {
      await sleep(20)
      now = await stats(page)
    }
    assert.equal(now.cleaned, before.cleaned + 1, 'the closed stream was cleaned up')
    assert.equal(now.started - now.cleaned, 9, 'the other nine are still open')
    await context.close()

    const plainPage = await browser.newPage()
    assert.equal(await tenStreams(plainPage, plain.url, 3_000), 6, 'over HTTP/1.1 only six connections')
    await plainPage.close()
  } finally {
    await tls.stop()
    await plain.stop()
  }
})
