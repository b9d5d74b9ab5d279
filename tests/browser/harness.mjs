// What every browser test needs: an example server on a free 127.0.0.1 port, headless Chromium,
// bounded waits, and where screenshots go.
//
// - Example binaries come from $EXAMPLES_DIR (tests/browser.rs sets it to the examples folder
//   of the profile it was built with), falling back to ../../target/debug/examples.
// - Chromium is Debian's /usr/bin/chromium ($CHROMIUM overrides it); playwright-core never
//   downloads a browser of its own.
// - Screenshots go to $SCREENSHOTS_DIR, falling back to ../../target/browser-screenshots;
//   `UPDATE_SCREENSHOTS=1 cargo test --test browser` points it at docs/.

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { chromium } from 'playwright-core'

const here = path.dirname(fileURLToPath(import.meta.url))

export const EXAMPLES_DIR = path.resolve(process.env.EXAMPLES_DIR ?? path.join(here, '../../target/debug/examples'))
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
export const SCREENSHOTS_DIR = path.resolve(process.env.SCREENSHOTS_DIR ?? path.join(here, '../../target/browser-screenshots'))

/** Rejects with a clear error if `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Starts `bin` on port 0 (the kernel picks a free one) and reads its address back. */
function startOnce(bin, args) {
  const child = spawn(bin, ['--addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve({ code, signal })))
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
      `${path.basename(bin)} exited before it was ready (code ${code}, signal ${signal})\n`
      + `stdout:\n${stdout}\nstderr:\n${stderr}`,
    )))
  })
  return withTimeout(ready, 20_000, `${path.basename(bin)}: "listening on http(s)://127.0.0.1:PORT"`)
    .then(url => ({ child, exited, url, output: () => ({ stdout, stderr }) }))
    .catch(err => {
      child.kill('SIGKILL')
      throw err
    })
}

/**
 * Starts examples/<name>.rs on port 0, a free port the kernel picks, with `args` after `--addr`.
 * Returns `{ url, output, stop }`; `stop()` sends SIGTERM, and SIGKILL if the server is still
 * there 5 s later.
 */
export async function startExample(name, args = []) {
  const bin = path.join(EXAMPLES_DIR, name)
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: build it with \`cargo build --example ${name}\` or set EXAMPLES_DIR`)
  }
  const { child, exited, url, output } = await startOnce(bin, args)
  let stopping
  const stop = () => {
    stopping ??= (async () => {
      child.kill('SIGTERM')
      try {
        await withTimeout(exited, 5_000, `${name} exit after SIGTERM`)
      } catch {
        child.kill('SIGKILL')
        await withTimeout(exited, 5_000, `${name} exit after SIGKILL`).catch(() => {})
      }
    })()
    return stopping
  }
  return { url, output, stop }
}

/**
 * Headless Chromium with the flags this machine needs: no sandbox (we run as root), no GPU,
 * and none of Chromium's own traffic (updates, sync, QUIC probes), which the closed network
 * would refuse. `launch` gives it a fresh, empty profile in a temporary folder every time.
 */
export function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium chromium-driver`)
  }
  return withTimeout(chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  }), 40_000, 'launching Chromium')
}

/** Where a screenshot called `name` goes; the folder is created on first use. */
export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true })
  return path.join(SCREENSHOTS_DIR, name)
}

/** Requests `url` (GET unless told, no body) and parses the JSON answer. */
export async function fetchJson(url, { method = 'GET' } = {}) {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(5_000) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${url} -> ${res.status}: ${text}`)
  return JSON.parse(text)
}

/**
 * Polls `read()` every 100 ms until `check(value)` is true or `ms` elapse, and returns the last
 * value read (the caller asserts on it).
 */
export async function pollUntil(read, check, ms = 5_000) {
  const deadline = Date.now() + ms
  let value = await read()
  while (!check(value) && Date.now() < deadline) {
    await sleep(100)
    value = await read()
  }
  return value
}
