// Follows GET /api/scores with the browser's own EventSource.
//
// The EventSource does the resuming: when the stream ends or the connection drops, it waits the
// server's `retry` delay and reconnects with the last id it saw as `Last-Event-ID`. This page
// only checks that it worked: the publisher's ids are consecutive integers, so after the first
// event every id must be exactly one more than the previous one. A smaller one is a duplicate,
// a larger one a gap; both are counted and shown (and read by tests/browser).

// The server's error codes after which reconnecting with Last-Event-ID is the right move. Any
// other (EVENTS_LOST after a server restart, BAD_REQUEST for an id it never issued) means the
// history is gone: start again from a snapshot.
const RESUMABLE = new Set(['STREAM_CUT', 'SUBSCRIBER_LAGGED', 'SERVICE_UNAVAILABLE'])

const stream = document.getElementById('stream')
const matches = document.getElementById('matches')
const log = document.getElementById('log')
const connection = document.querySelector('[data-testid="connection"]')

const counters = { events: 0, duplicates: 0, gaps: 0, reconnects: 0, snapshots: 0 }
let lastId = null
let opened = 0
let source = null

function connect() {
  source = new EventSource('/api/scores')
  source.onopen = () => {
    if (opened++ > 0) {
      counters.reconnects++
      note(lastId === null ? 'reconnected' : `reconnected, resuming after #${lastId}`)
    }
    setConnection('connected')
    show()
  }
  source.onmessage = e => receive(JSON.parse(e.data), Number(e.lastEventId))
  // `error` is two things: the server's error event (a MessageEvent with data, sent before it
  // ends the stream) and the browser's notice that the connection is gone.
  source.addEventListener('error', e => {
    if (e.data) {
      const error = JSON.parse(e.data)
      note(`stream ended by the server: ${error.code}`)
      if (!RESUMABLE.has(error.code)) startOver()
      return
    }
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (the server answered with an error status): try again later.
      setConnection('disconnected')
      setTimeout(startOver, 2000)
    } else {
      setConnection('reconnecting')
    }
  })
}

/** A new EventSource, without Last-Event-ID: the server answers with a fresh snapshot. */
function startOver() {
  source.close()
  lastId = null
  connect()
}

function receive(event, id) {
  if (event.type === 'snapshot') {
    // The snapshot's id is the last message it includes: the next update is id + 1.
    counters.snapshots++
    event.matches.forEach(m => draw(m, false))
    lastId = id
  } else {
    if (lastId !== null && id <= lastId) {
      counters.duplicates++
      show()
      return
    }
    if (lastId !== null && id > lastId + 1) counters.gaps++
    lastId = id
    counters.events++
    draw(event, true)
    note(`${event.home} ${event.home_goals}–${event.away_goals} ${event.away}`, id)
  }
  show()
}

function draw(m, goal) {
  let card = document.getElementById(`match-${m.id}`)
  if (!card) {
    card = document.createElement('article')
    card.id = `match-${m.id}`
    card.className = 'match panel'
    card.dataset.testid = 'match'
    card.innerHTML = '<span class="team home"></span><span class="score"></span><span class="team away"></span>'
    matches.append(card)
  }
  card.querySelector('.home').textContent = m.home
  card.querySelector('.away').textContent = m.away
  card.querySelector('.score').textContent = `${m.home_goals} – ${m.away_goals}`
  if (goal) {
    // Restart the flash animation even when the same card scores twice in a row.
    card.classList.remove('goal')
    void card.offsetWidth
    card.classList.add('goal')
  }
}

/** The newest line on top; eight lines at most. */
function note(text, id) {
  const li = document.createElement('li')
  const label = document.createElement('span')
  label.className = 'id'
  label.textContent = id === undefined ? '' : `#${id}`
  li.append(label, text)
  if (id === undefined) li.className = 'notice'
  log.prepend(li)
  while (log.children.length > 8) log.lastChild.remove()
}

function setConnection(state) {
  connection.dataset.state = state
  connection.textContent = state
}

function show() {
  stream.dataset.lastEventId = lastId ?? ''
  for (const [name, value] of Object.entries(counters)) stream.dataset[name] = value
  stream.querySelector('[data-testid="last-event-id"]').textContent = `last event id: ${lastId ?? '–'}`
  for (const name of ['duplicates', 'gaps', 'reconnects']) {
    stream.querySelector(`[data-testid="${name}"]`).textContent = counters[name]
  }
}

connect()
