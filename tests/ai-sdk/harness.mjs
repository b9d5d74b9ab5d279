// A mock of OpenAI's streaming chat completions API on loopback, and the ai_chat example
// ($AI_CHAT_BIN) pointed at it.

import { spawn } from 'node:child_process'
import { createServer } from 'node:http'

export const AI_CHAT_BIN = process.env.AI_CHAT_BIN ?? '../../target/debug/examples/ai_chat'

/** What the mock answers, a word every 20 ms. */
export const TEXT = 'A reply read by the AI SDK: every word a text-delta chunk, written by the ' +
  'server to a channel and read back by whoever asks, exactly once and in order.'

/** The mock upstream; `close()` stops it. */
export async function startMock() {
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end()
      return
    }
    req.resume()
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const send = data => res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
      for (const word of TEXT.split(/(?<= )/)) {
        if (res.destroyed) return
        send({ choices: [{ index: 0, delta: { content: word } }] })
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
      send('[DONE]')
      res.end()
    })
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    base: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }),
  }
}

/** The example with `args`, on a free port; `{ url, stop }`. */
export function startExample(args) {
  const child = spawn(AI_CHAT_BIN, ['--addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('ai_chat did not say "listening on" within 20 s')), 20_000)
    let out = ''
    child.on('error', reject)
    child.on('exit', code => reject(new Error(`ai_chat exited (${code}) before it was ready: ${out}`)))
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', chunk => {
      out += chunk
      const listening = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
      if (!listening) return
      clearTimeout(timer)
      resolve({ url: listening[1], stop: () => child.kill('SIGKILL') })
    })
  })
}
