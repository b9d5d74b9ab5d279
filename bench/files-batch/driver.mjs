// The load driver of bench/files-batch, against one server at a time:
//
//     node driver.mjs upload URL PID    # 10 MB uploads over RPC, one at a time
//     node driver.mjs batch URL         # echo calls: ten requests against one batch of ten
//
// `upload` sends UPLOADS files of 10,000,000 bytes as oRPC's RPC form (what RPCLink sends for an
// input holding a File) and reports MB/s, and the server's resident memory (from /proc/PID)
// before the first upload and at its highest while they run, sampled every 5 ms.
// `batch` runs CONCURRENCY workers for BATCH_SECONDS seconds each; a worker either posts ten `echo`
// calls one after another to /rpc/echo, or one batch of the same ten calls in BatchLinkPlugin's
// streaming mode, and it reports calls per second for each way. Loopback only; every loop is
// bounded by its count or its deadline. Prints one JSON line.

import { readFileSync } from 'node:fs'

const [mode, base, pid] = process.argv.slice(2)
const UPLOADS = Number(process.env.UPLOADS ?? 10)
const SECONDS = Number(process.env.BATCH_SECONDS ?? 3)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16)
const MB = 1_000_000

const rss = () => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024
}

async function upload() {
  const bytes = new Uint8Array(10 * MB).map((_, i) => (i * 7) & 0xff)
  const file = new File([bytes], 'ten.bin', { type: 'application/octet-stream' })
  const form = () => {
    const form = new FormData()
    form.set('data', JSON.stringify({ json: { name: 'ten', file: {} }, maps: [['file']] }))
    form.set('0', file)
    return form
  }
  // One upload to warm both servers up, not measured.
  await post(form())
  const before = rss()
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, rss()) }, 5)
  const started = performance.now()
  for (let i = 0; i < UPLOADS; i++) await post(form())
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  peak = Math.max(peak, rss())
  return { mb_per_s: (UPLOADS * 10) / seconds, rss_before: before, rss_peak: peak }

  async function post(body) {
    const response = await fetch(`${base}/rpc/upload`, { method: 'POST', body })
    const answer = await response.json()
    if (response.status !== 200 || answer.json.size !== 10 * MB) {
      throw new Error(`upload answered ${response.status}: ${JSON.stringify(answer)}`)
    }
  }
}

async function batch() {
  const call = i => ({ name: `n${i}` })
  const alone = JSON.stringify({ json: call(0) })
  const items = JSON.stringify(Array.from({ length: 10 }, (_, i) => ({
    url: `${base}/rpc/echo`, body: { json: call(i) },
  })))
  const separate = async () => {
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${base}/rpc/echo`, { method: 'POST', body: alone, headers: { 'content-type': 'application/json' } })
      if (response.status !== 200) throw new Error(`echo answered ${response.status}`)
      await response.arrayBuffer()
    }
  }
  const batched = async () => {
    const response = await fetch(`${base}/rpc/echo/__batch__`, {
      method: 'POST', body: items, headers: { 'content-type': 'application/json', 'x-orpc-batch': 'streaming' },
    })
    const text = await response.text()
    if (response.status !== 207 || (text.match(/"status":200/g) ?? []).length !== 10) {
      throw new Error(`batch answered ${response.status}: ${text.slice(0, 300)}`)
    }
  }
  const rate = async (job) => {
    await job()
    const deadline = performance.now() + SECONDS * 1000
    let calls = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await job()
        calls += 10
      }
    }))
    return calls / SECONDS
  }
  return { separate_calls_per_s: await rate(separate), batched_calls_per_s: await rate(batched) }
}

const result = mode === 'upload' ? await upload() : await batch()
console.log(JSON.stringify(result))
