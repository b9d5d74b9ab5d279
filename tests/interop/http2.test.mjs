// HTTP/2 over TLS with Node's own `http2` module: 100 streams on one connection, half of them
// reset one at a time at different moments while the other half stream to their `done`; each
// reset's cleanup runs within a second, then dropping the connection ends everything on it.
//
// The conformance server is started with the self-signed pair that `cargo test --test interop`
// writes and names in TLS_CERT and TLS_KEY.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'

import { sleep, startServer, withTimeout } from './conformance-server.mjs'

const { TLS_CERT, TLS_KEY } = process.env
const skip = !(TLS_CERT && TLS_KEY) && 'TLS_CERT and TLS_KEY are not set (cargo test --test interop sets them)'

/** One request on `session`; resolves to `{ status, body }` once it ends. */
function request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers)
    let text = ''
    let status = 0
    req.setEncoding('utf8')
    req.on('response', h => { status = h[':status'] })
    req.on('data', chunk => { text += chunk })
    req.on('end', () => resolve({ status, body: text }))
    req.on('error', reject)
    req.end(body)
  })
}

/** The conformance server's stream counters, asked over the same connection. */
async function stats(session) {
  const { body } = await request(session, { ':method': 'POST', ':path': '/rpc/stats' })
  const { started, cleaned } = JSON.parse(body).json
  return { started, cleaned }
}

/** Opens an idle `forever` stream and waits for its first tick. */
function idleStream(session) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/api/forever?interval_ms=3600000' })
    let text = ''
    req.setEncoding('utf8')
    req.on('data', chunk => {
      text += chunk
      if (text.includes('"tick":0')) resolve(req)
    })
    req.on('error', reject)
  })
}

test('HTTP/2: 100 streams on one connection, resets one by one, the rest intact', { skip, timeout: 90_000 }, async () => {
  const server = await startServer({ args: ['--tls-cert', TLS_CERT, '--tls-key', TLS_KEY] })
  assert.match(server.url, /^https:\/\//)
  const session = http2.connect(server.url, { rejectUnauthorized: false })
  try {
    await withTimeout(new Promise((resolve, reject) => {
      session.once('connect', resolve)
      session.once('error', reject)
    }), 5_000, 'the HTTP/2 connection')
    assert.equal(session.alpnProtocol, 'h2')

    const idle = []
    for (let i = 0; i < 50; i++) idle.push(await withTimeout(idleStream(session), 5_000, `idle stream ${i}`))
    const base = await stats(session)
    assert.equal(base.started - base.cleaned, 50)
    // Fifty streams that tick every 100 ms for six seconds, to their `done`, meanwhile.
    const counting = Array.from({ length: 50 }, () =>
      request(session, { ':path': '/api/count?n=60&delay_ms=100' }))

    // The idle streams are reset one by one, 40 ms apart, over two seconds; the counting streams
    // are all still running until after the last cleanup, so every cleanup seen is a reset's.
    const resets = []
    const resetting = (async () => {
      for (const stream of idle) {
        stream.close(http2.constants.NGHTTP2_CANCEL)
        resets.push(Date.now())
        await sleep(40)
      }
    })()
    const cleanups = [] // when the count of cleanups first reached 1, 2, ...
    const watchUntil = Date.now() + 4_000
    while (cleanups.length < idle.length && Date.now() < watchUntil) {
      const { cleaned } = await stats(session)
      while (cleanups.length < cleaned - base.cleaned) cleanups.push(Date.now())
      await sleep(5)
    }
    await resetting
    assert.equal(cleanups.length, idle.length, `${cleanups.length} of ${idle.length} resets cleaned up`)
    for (let k = 0; k < idle.length; k++) {
      const took = cleanups[k] - resets[k]
      assert.ok(took <= 1_000, `reset ${k + 1}: the ${k + 1}th cleanup came ${took} ms after it`)
    }

    for (const { status, body } of await Promise.all(counting)) {
      assert.equal(status, 200)
      const ids = [...body.matchAll(/^id: (\d+)$/gm)].map(m => Number(m[1]))
      assert.deepEqual(ids, Array.from({ length: 60 }, (_, i) => i), 'every event, in order')
      assert.ok(body.endsWith('event: done\ndata: "done!"\n\n'), body.slice(-80))
    }
    const after = await stats(session)
    assert.equal(after.started - after.cleaned, 0, 'nothing left open on the server')

    // The connection drops with streams open on it: all of them end within a second.
    const open = []
    for (let i = 0; i < 10; i++) open.push(await idleStream(session))
    const { started } = await stats(session)
    session.destroy()
    const check = http2.connect(server.url, { rejectUnauthorized: false })
    try {
      const dropped = Date.now()
      let seen = await stats(check)
      while (seen.cleaned < started && Date.now() - dropped < 2_000) {
        await sleep(10)
        seen = await stats(check)
      }
      const took = Date.now() - dropped
      assert.ok(seen.cleaned === started && took <= 1_000, `connection drop: ${seen.cleaned}/${started} cleaned after ${took} ms`)
    } finally {
      check.close()
    }
  } finally {
    session.destroy()
    await server.stop()
  }
})
