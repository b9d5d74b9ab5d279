// Follows GET /api/quotes with an EventSource and keeps one table row per symbol.
//
// Quotes carry no ids: only the latest price matters, and a reconnecting EventSource is sent
// every current quote again, so there is nothing to resume.

const rows = document.getElementById('rows')
const stream = document.getElementById('stream')
const events = document.getElementById('events')
const connection = document.querySelector('[data-testid="connection"]')
let count = 0

const source = new EventSource('/api/quotes')
source.onopen = () => setConnection('connected')
source.onmessage = e => {
  const quote = JSON.parse(e.data)
  draw(quote)
  stream.dataset.events = ++count
  events.textContent = count
}
source.addEventListener('error', e => {
  // A MessageEvent with data is the server's error event (a quote that failed its schema
  // would end the stream with one); otherwise the connection dropped. Either way the
  // EventSource reconnects by itself.
  if (e.data) console.warn('the server ended the stream:', e.data)
  setConnection(source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting')
})

function draw(quote) {
  let row = document.getElementById(`quote-${quote.symbol}`)
  if (!row) {
    row = document.createElement('tr')
    row.id = `quote-${quote.symbol}`
    row.dataset.testid = 'quote'
    row.innerHTML = '<td></td><td class="price"></td><td class="change"></td><td class="updates">0</td>'
    row.cells[0].textContent = quote.symbol
    // Keep the table in alphabetical order, whatever order the quotes arrive in.
    const after = [...rows.children].find(r => r.cells[0].textContent > quote.symbol)
    rows.insertBefore(row, after ?? null)
  }
  const previous = Number(row.dataset.price ?? quote.price)
  row.dataset.price = quote.price
  row.cells[1].textContent = quote.price.toFixed(2)
  const change = row.cells[2]
  change.textContent = `${quote.change_pct >= 0 ? '+' : ''}${quote.change_pct.toFixed(2)} %`
  change.className = `change ${quote.change_pct > 0 ? 'up' : quote.change_pct < 0 ? 'down' : ''}`
  row.cells[3].textContent = Number(row.cells[3].textContent) + 1
  if (quote.price !== previous) {
    // Restart the flash animation even when the same row ticks twice in a row.
    row.classList.remove('tick-up', 'tick-down')
    void row.offsetWidth
    row.classList.add(quote.price > previous ? 'tick-up' : 'tick-down')
  }
}

function setConnection(state) {
  connection.dataset.state = state
  connection.textContent = state
}
