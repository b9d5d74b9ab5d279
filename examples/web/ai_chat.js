// Posts the prompt to POST /api/chat and shows the reply as its events arrive.
//
// EventSource only GETs, so this reads the SSE response of a plain `fetch` instead: a few lines
// of parsing (events are separated by a blank line; each has `event:` and `data:` lines). Stop
// aborts the fetch, which closes the connection; the server then drops the handler and its
// cleanup runs (see the server's log, or /api/stats).

const chat = document.getElementById('chat')
const composer = document.getElementById('composer')
const prompt = document.getElementById('prompt')
const send = document.getElementById('send')
const stop = document.getElementById('stop')

let controller = null

composer.addEventListener('submit', async e => {
  e.preventDefault()
  const text = prompt.value.trim()
  if (!text || controller) return
  bubble('user', text)
  const reply = bubble('assistant', '')
  reply.dataset.testid = 'reply'
  reply.classList.add('streaming')
  controller = new AbortController()
  busy(true)
  let tokens = 0
  try {
    const response = await fetch('/api/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ prompt: text }),
      signal: controller.signal,
    })
    if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`)
    for await (const { event, data } of serverSentEvents(response.body)) {
      if (event === 'message') {
        reply.textContent += JSON.parse(data).text
        reply.dataset.tokens = ++tokens
      } else if (event === 'done') {
        const { tokens: n, elapsed_ms } = JSON.parse(data)
        summary(`${n} tokens in ${(elapsed_ms / 1000).toFixed(1)} s`, 'done')
      } else if (event === 'error') {
        summary(`error: ${JSON.parse(data).message}`, 'error')
      }
    }
  } catch (err) {
    if (err.name === 'AbortError') summary(`stopped after ${tokens} tokens`, 'stopped')
    else summary(`error: ${err.message}`, 'error')
  } finally {
    reply.classList.remove('streaming')
    controller = null
    busy(false)
    // The server counts the cleanup within a second of the connection closing.
    setTimeout(refreshStats, 1200)
  }
})

stop.addEventListener('click', () => controller?.abort())

/** Yields `{ event, data }` for each event of a text/event-stream body. */
async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value.replace(/\r\n?/g, '\n')
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = 'message'
      const data = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue // a comment: the initial one, or keep-alive
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') event = value
        else if (field === 'data') data.push(value)
      }
      if (data.length) yield { event, data: data.join('\n') }
    }
  }
}

function bubble(who, text) {
  const div = document.createElement('div')
  div.className = `bubble ${who}`
  div.textContent = text
  chat.append(div)
  return div
}

function summary(text, kind) {
  const div = document.createElement('div')
  div.className = `summary ${kind}`
  div.dataset.testid = 'summary'
  div.dataset.kind = kind
  div.textContent = text
  chat.append(div)
}

function busy(on) {
  send.disabled = on
  stop.disabled = !on
}

async function refreshStats() {
  try {
    const stats = await (await fetch('/api/stats')).json()
    document.getElementById('cleanups').textContent = `${stats.cleanups} (${stats.cancelled} cancelled)`
  } catch {
    // The stats line is a nicety; the chat works without it.
  }
}

refreshStats()
