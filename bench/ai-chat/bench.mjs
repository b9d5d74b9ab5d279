// What the ai_chat example adds over its upstream: a mock OpenAI API (this file) streams TOKENS
// tokens per reply, and the same driver reads replies from it directly and through the example
// (`chat` over oRPC's RPC protocol: generator task, pub/sub channel, reader, SSE).
//
// - time to first token: from the request to the first token (the mock waits FIRST_MS first, as
//   a model thinks); ours minus the mock's own is what the server adds;
// - chunks/s: tokens sent as fast as the mock can, 1 chat and CHATS chats at once, over the span
//   from the first request to the last token;
// - memory per active reply: the example's resident memory with ACTIVE slow replies open (one
//   token every 100 ms), minus its memory before, divided by ACTIVE.
//
// Loopback only; every run is bounded. Prints a Markdown table.
//     AI_CHAT_BIN=target/release/examples/ai_chat node bench/ai-chat/bench.mjs

import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

const BIN = process.env.AI_CHAT_BIN ?? 'target/release/examples/ai_chat'
const TOKENS = Number(process.env.TOKENS ?? 2000)
const CHATS = Number(process.env.CHATS ?? 100)
const ACTIVE = Number(process.env.ACTIVE ?? 500)
const FIRST_MS = Number(process.env.FIRST_MS ?? 100)
const ROUNDS = Number(process.env.ROUNDS ?? 5)

/** The mock: model `fast` sends TOKENS tokens at once after FIRST_MS; `slow` one every 100 ms. */
async function startMock() {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', chunk => { body += chunk })
    req.on('end', async () => {
      const { model } = JSON.parse(body)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      await sleep(FIRST_MS)
      const line = i => `data: {"choices":[{"index":0,"delta":{"content":"w${i} "}}]}\n\n`
      for (let i = 0; i < TOKENS && !res.destroyed; i++) {
        if (model === 'slow') await sleep(100)
        if (!res.write(line(i))) await new Promise(resolve => res.once('drain', resolve))
      }
      res.end('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    })
  })
  server.keepAliveTimeout = 1
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${server.address().port}` }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function startExample(upstream, model) {
  const child = spawn(BIN, ['--addr', '127.0.0.1:0', '--upstream', `${upstream}/v1`, '--model', model], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no "listening on" within 20 s')), 20_000)
    let out = ''
    child.stdout.on('data', chunk => {
      out += chunk
      const m = out.match(/listening on (http:\/\/[\d.:]+)/)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    })
  })
  return { child, url }
}

/** Reads one reply; returns { start, first, end, tokens } in ms. */
async function read(url, body, isToken) {
  const start = performance.now()
  const response = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  })
  const decoder = new TextDecoder()
  let buffer = ''
  let first = null
  let tokens = 0
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true })
    let at
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, at)
      buffer = buffer.slice(at + 2)
      if (isToken(block)) {
        tokens++
        first ??= performance.now()
      }
    }
  }
  return { start, first, end: performance.now(), tokens }
}

const direct = mock => n => read(`${mock}/v1/chat/completions`, { model: 'fast', stream: true, messages: [] },
  block => block.includes('"content"'))
let chatIds = 0
const ours = url => () => read(`${url}/rpc/chat`,
  { json: { chatId: `b${process.pid}x${chatIds++}`, messages: [{ role: 'user', parts: [{ type: 'text', text: 'go' }] }] } },
  block => block.includes('"text-delta"'))

/** n replies at once: median time to first token, and chunks/s over the whole span. */
async function scenario(one, n) {
  const replies = await Promise.all(Array.from({ length: n }, () => one()))
  for (const r of replies) if (r.tokens !== TOKENS) throw new Error(`a reply had ${r.tokens} of ${TOKENS} tokens`)
  const ttft = median(replies.map(r => r.first - r.start))
  const span = Math.max(...replies.map(r => r.end)) - Math.min(...replies.map(r => r.start))
  return { ttft, rate: (n * TOKENS) / (span / 1000) }
}

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function rss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]) * 1024
}

const mock = await startMock()
const fast = await startExample(mock.url, 'fast')
const results = { direct: {}, ours: {} }
try {
  for (const n of [1, CHATS]) {
    const d = [], o = []
    for (let round = 0; round < ROUNDS; round++) {
      d.push(await scenario(direct(mock.url), n))
      o.push(await scenario(ours(fast.url), n))
    }
    results.direct[n] = { ttft: median(d.map(x => x.ttft)), rate: median(d.map(x => x.rate)) }
    results.ours[n] = { ttft: median(o.map(x => x.ttft)), rate: median(o.map(x => x.rate)) }
  }
} finally {
  fast.child.kill('SIGKILL')
}

// Memory: ACTIVE slow replies open at once.
const slow = await startExample(mock.url, 'slow')
let perReply
try {
  const chat = ours(slow.url)
  await sleep(500)
  const before = rss(slow.child.pid)
  const controllers = []
  const open = Array.from({ length: ACTIVE }, (_, i) => {
    const controller = new AbortController()
    controllers.push(controller)
    return fetch(`${slow.url}/rpc/chat`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ json: { chatId: `m${process.pid}x${i}`, messages: [{ role: 'user', parts: [{ type: 'text', text: 'go' }] }] } }),
    }).then(r => r.body.getReader().read()).catch(() => {})
  })
  await Promise.all(open)
  await sleep(3000)
  const during = rss(slow.child.pid)
  perReply = (during - before) / ACTIVE
  for (const c of controllers) c.abort()
  void chat
} finally {
  slow.child.kill('SIGKILL')
  mock.server.closeAllConnections()
  mock.server.close()
}

const f = x => x.toLocaleString('en-US', { maximumFractionDigits: 1 })
console.log(`| | 1 chat | ${CHATS} chats at once |`)
console.log('|---|---:|---:|')
console.log(`| time to first token, the mock alone (ms) | ${f(results.direct[1].ttft)} | ${f(results.direct[CHATS].ttft)} |`)
console.log(`| time to first token, through ai_chat (ms) | ${f(results.ours[1].ttft)} | ${f(results.ours[CHATS].ttft)} |`)
console.log(`| added by ai_chat (ms) | ${f(results.ours[1].ttft - results.direct[1].ttft)} | ${f(results.ours[CHATS].ttft - results.direct[CHATS].ttft)} |`)
console.log(`| tokens/s, the mock alone | ${f(results.direct[1].rate)} | ${f(results.direct[CHATS].rate)} |`)
console.log(`| chunks/s through ai_chat | ${f(results.ours[1].rate)} | ${f(results.ours[CHATS].rate)} |`)
console.log(`\nMemory per active reply (${ACTIVE} open at once, a token every 100 ms): ${f(perReply / 1024)} KiB`)
console.log(`TOKENS=${TOKENS} FIRST_MS=${FIRST_MS}; medians of ${ROUNDS} rounds, the mock and ai_chat alternating.`)
