// The conformance server's OpenAPI document, checked by an independent OpenAPI 3.1 validator.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { Validator } from '@seriousme/openapi-schema-validator'

import { startServer, withTimeout } from './conformance-server.mjs'

const T = { timeout: 15_000 }

let server

before(async () => {
  server = await startServer()
})

after(async () => {
  await server?.stop()
})

test('GET /api/openapi.json is a valid OpenAPI 3.1 document', T, async () => {
  const response = await withTimeout(fetch(`${server.apiUrl}/openapi.json`), 5_000, 'fetching the document')
  assert.equal(response.status, 200)
  const document = await response.json()
  assert.equal(document.openapi, '3.1.1')
  const validator = new Validator()
  const result = await validator.validate(document)
  assert.deepEqual(result.errors ?? [], [])
  assert.equal(result.valid, true)
  assert.equal(validator.version, '3.1')
})

test('the validator rejects a broken document, so the check above can fail', T, async () => {
  const response = await fetch(`${server.apiUrl}/openapi.json`)
  const document = await response.json()
  document.paths['/count'].get.responses = 'not an object'
  const result = await new Validator().validate(document)
  assert.equal(result.valid, false)
})
