// Shared helper for the interop tests: starts the conformance server
// (examples/conformance.rs) on a free 127.0.0.1 port and stops it again.
//
// The binary comes from $CONFORMANCE_BIN, falling back to
// ../../target/debug/examples/conformance relative to this folder.

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

export const CONFORMANCE_BIN = process.env.CONFORMANCE_BIN
  ? path.resolve(process.env.CONFORMANCE_BIN)
  : path.resolve(here, '../../target/debug/examples/conformance')

/** Rejects with a clear error if `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Starts the server on port 0 (the kernel picks a free one) and reads its address back. */
function startOnce(readyTimeoutMs, args) {
  const child = spawn(CONFORMANCE_BIN, ['--addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const exited = new Promise(resolve => {
    child.on('exit', (code, signal) => resolve({ code, signal }))
  })

  const ready = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', chunk => {
      stdout += chunk
      const listening = stdout.match(/listening on (https?:\/\/127\.0\.0\.1:\d+)/)
      if (listening) resolve(listening[1])
    })
    child.stderr.on('data', chunk => { stderr += chunk })
    exited.then(({ code, signal }) => reject(new Error(
      `conformance server exited before it was ready (code ${code}, signal ${signal})\n`
      + `stdout:\n${stdout}\nstderr:\n${stderr}`,
    )))
  })

  return withTimeout(ready, readyTimeoutMs, 'waiting for "listening on http(s)://127.0.0.1:PORT"')
    .then(url => ({ child, exited, url, output: () => ({ stdout, stderr }) }))
    .catch(err => {
      child.kill('SIGKILL')
      throw err
    })
}

/**
 * Starts the conformance server, with `args` after `--addr` (`--tls-cert`, say). Returns
 * `{ url, rpcUrl, apiUrl, stop }`;
 * `stop()` sends SIGTERM and resolves to `{ code, signal, ms }` once the
 * process has exited (it is SIGKILLed if it is still alive after 10 s).
 */
export async function startServer({ readyTimeoutMs = 20_000, args = [] } = {}) {
  if (!existsSync(CONFORMANCE_BIN)) {
    throw new Error(
      `conformance server binary not found at ${CONFORMANCE_BIN}; `
      + 'build it with `cargo build --example conformance` or set CONFORMANCE_BIN',
    )
  }
  const started = await startOnce(readyTimeoutMs, args)
  const { child, exited, url } = started
  let stopping
  const stop = () => {
    stopping ??= (async () => {
      const t0 = Date.now()
      child.kill('SIGTERM')
      try {
        const result = await withTimeout(exited, 10_000, 'conformance server exit after SIGTERM')
        return { ...result, ms: Date.now() - t0 }
      } catch (err) {
        child.kill('SIGKILL')
        await withTimeout(exited, 5_000, 'conformance server exit after SIGKILL').catch(() => {})
        throw err
      }
    })()
    return stopping
  }
  return { url, rpcUrl: `${url}/rpc`, apiUrl: `${url}/api`, stop, output: started.output }
}

/** POST {url} with a JSON body (or none) and parse the JSON answer. */
export async function postJson(url, body) {
  const init = { method: 'POST', signal: AbortSignal.timeout(5_000) }
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' }
    init.body = JSON.stringify(body)
  }
  const res = await fetch(url, init)
  const text = await res.text()
  if (!res.ok) throw new Error(`POST ${url} -> ${res.status}: ${text}`)
  return JSON.parse(text)
}

/**
 * Polls `read()` every 50 ms until `check(value)` is true or `ms` elapse,
 * and returns the last value read (the caller asserts on it).
 */
export async function pollUntil(read, check, ms = 2_000) {
  const deadline = Date.now() + ms
  let value = await read()
  while (!check(value) && Date.now() < deadline) {
    await sleep(50)
    value = await read()
  }
  return value
}
