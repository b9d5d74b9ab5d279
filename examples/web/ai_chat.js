// A chat whose replies survive the page: the server writes each reply to a channel of its own,
// and this page only reads it.
//
// - Send calls `chat` (oRPC's RPC protocol over `fetch`: POST /rpc/chat with `{"json": input}`,
//   answered with server-sent events), and shows the AI SDK chunks as they arrive.
// - The conversation and the chat's id are kept in sessionStorage. A reloaded page shows them,
//   then calls `resume` without a Last-Event-ID: the current (or last) reply comes again from its
//   `start`, and goes on live if it is still being written. A reply already shown in full is not
//   shown twice.
// - A connection cut mid-reply is resumed with the last event id: the rest, nothing twice.
// - Stop calls `stop`, which ends the reply on the server (and its upstream request); the reply's
//   own stream then ends with its `finish`.

const chat = document.getElementById('chat')
const composer = document.getElementById('composer')
const prompt = document.getElementById('prompt')
const send = document.getElementById('send')
const stop = document.getElementById('stop')

const saved = JSON.parse(sessionStorage.getItem('ai_chat') ?? 'null')
const state = saved ?? { chatId: newId(), messages: [] }
document.getElementById('chat-id').textContent = state.chatId

function newId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), b => b.toString(16).padStart(2, '0')).join('')
}

function save() {
  sessionStorage.setItem('ai_chat', JSON.stringify(state))
}

/** Calls an event-iterator procedure; yields `{ event, data, id }` as the events arrive. */
async function* call(procedure, input, { lastEventId, signal } = {}) {
  const headers = { 'content-type': 'application/json', accept: 'text/event-stream' }
  if (lastEventId) headers['last-event-id'] = lastEventId
  const response = await fetch(`/rpc/${procedure}`, {
    method: 'POST', headers, body: JSON.stringify({ json: input }), signal,
  })
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`)
  yield* serverSentEvents(response.body)
}

/**
 * Reads one reply's stream into `view`, resuming after the last event id when the connection is
 * cut (at most five times in a row). Returns how the reply ended.
 */
async function follow(view, open) {
  let lastEventId = null
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      for await (const { event, data, id } of open(lastEventId)) {
        if (id) lastEventId = id
        if (event === 'error') return view.end('error', JSON.parse(data).json?.message ?? 'error')
        if (event === 'done') return view.state
        if (event !== 'message') continue
        attempt = 0
        view.chunk(JSON.parse(data).json)
      }
      return view.state
    } catch (err) {
      if (view.state !== 'streaming') return view.state
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    if (!lastEventId) break
  }
  return view.end('error', 'the connection was lost')
}

/** An assistant message on the page, fed chunk by chunk. */
function assistantView(message) {
  const div = bubble('assistant', message.text ?? '')
  div.dataset.testid = 'reply'
  div.classList.add('streaming')
  const view = {
    state: 'streaming',
    deltas: 0,
    chunk(chunk) {
      switch (chunk.type) {
        case 'start':
          message.id = chunk.messageId
          break
        case 'text-delta':
          message.text = (message.text ?? '') + chunk.delta
          div.textContent = message.text
          div.dataset.deltas = ++view.deltas
          break
        case 'finish':
          view.end(chunk.finishReason === 'other' ? 'stopped' : 'done')
          break
        case 'error':
          view.end('error', chunk.errorText)
          break
      }
      save()
    },
    end(how, why) {
      if (view.state !== 'streaming') return view.state
      view.state = how
      message.state = how
      div.classList.remove('streaming')
      div.dataset.state = how
      if (how !== 'done') summary(how === 'stopped' ? 'stopped' : `error: ${why}`, how)
      save()
      return how
    },
  }
  div.dataset.state = 'streaming'
  return view
}

async function reply(open) {
  const message = { role: 'assistant', text: '', state: 'streaming' }
  state.messages.push(message)
  save()
  busy(true)
  try {
    await follow(assistantView(message), open)
  } finally {
    busy(false)
  }
}

composer.addEventListener('submit', async e => {
  e.preventDefault()
  const text = prompt.value.trim()
  if (!text || send.disabled) return
  state.messages.push({ role: 'user', text })
  bubble('user', text)
  save()
  const messages = state.messages
    .filter(m => m.role === 'user' || m.state === 'done')
    .map((m, i) => ({ id: m.id ?? `m${i}`, role: m.role, parts: [{ type: 'text', text: m.text }] }))
  await reply(lastEventId => lastEventId
    ? call('resume', { chatId: state.chatId }, { lastEventId })
    : call('chat', { chatId: state.chatId, messages }))
})

stop.addEventListener('click', async () => {
  await fetch('/rpc/stop', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: { chatId: state.chatId } }),
  })
})

document.getElementById('new').addEventListener('click', () => {
  sessionStorage.removeItem('ai_chat')
  location.reload()
})

/** Yields `{ event, data, id }` for each event of a text/event-stream body. */
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
      let id = null
      const data = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue // a comment: the initial one, or keep-alive
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') event = value
        else if (field === 'data') data.push(value)
        else if (field === 'id') id = value
      }
      if (data.length) yield { event, data: data.join('\n'), id }
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

/** After a reload: the conversation so far, then the reply the server has for this chat. */
async function restore() {
  // An unfinished reply is shown again from its start, by `resume`; finished ones from storage.
  const unfinished = state.messages.filter(m => m.role === 'assistant' && m.state === 'streaming')
  state.messages = state.messages.filter(m => !unfinished.includes(m))
  for (const m of state.messages) {
    if (m.role === 'user') bubble('user', m.text)
    else {
      const div = bubble('assistant', m.text)
      div.dataset.testid = 'reply'
      div.dataset.state = m.state
    }
  }
  save()
  const events = call('resume', { chatId: state.chatId })
  // The first chunk says which reply it is: one already shown whole is left alone.
  let first
  try {
    first = await events.next()
  } catch {
    return
  }
  if (first.done || first.value.event !== 'message') return
  const start = JSON.parse(first.value.data).json
  if (state.messages.some(m => m.id === start.messageId && m.state !== 'streaming')) {
    await events.return()
    return
  }
  let resumed = false
  await reply(lastEventId => {
    if (resumed) return call('resume', { chatId: state.chatId }, { lastEventId })
    resumed = true
    return (async function* () {
      yield first.value
      yield* events
    })()
  })
}

restore()
