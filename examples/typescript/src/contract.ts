// The oRPC contract of an orpc-rs router, generated from its schemas. Do not edit: generate it again.

import { eventIterator, oc, type } from '@orpc/contract'

export type A = {
  a: number
}

export type CountInput = {
  delay_ms?: number | null
  n: number
}

export type DownloadInput = {
  size: number
}

export type EchoInput = {
  name: string
}

export type ForeverInput = {
  interval_ms: number
}

export type Greeting = {
  greeting: string
}

export type LimitedOutput = {
  ok: boolean
}

export type N = {
  n: number
}

export type RetryAfter = {
  retry_after: number
}

export type StatsOutput = {
  cleaned: number
  started: number
}

export type TextInput = {
  items: string[]
}

export type Tick = {
  i: number
}

export type TickK = {
  tick: number
}

/**
 * What JSON alone cannot carry: a 64-bit integer a JavaScript number would round, and a
 * timestamp. oRPC's RPC serializer sends them as a `bigint` and a `Date`.
 */
export type Types = {
  at: Date
  big: bigint
}

export type UploadInput = {
  file: File
  name: string
}

export type Uploaded = {
  file_name: string
  name: string
  sha256: string
  size: number
  type: string
}

export type ValidatedInput = {
  values: number[]
}

/** The schema, not the handler, keeps `value` within 0..=100. */
export type Value = {
  value: number
}

export const contract = {
  count: oc.route({ method: 'GET', path: '/count' }).input(type<CountInput>()).output(eventIterator(type<Tick>(), type<string>())),
  download: oc.route({ method: 'GET', path: '/download' }).input(type<DownloadInput>()).output(type<File>()),
  echo: oc.route({ method: 'POST', path: '/echo' }).input(type<EchoInput>()).output(type<Greeting>()),
  fail: oc.route({ method: 'POST', path: '/fail' }).input(type<void>()).output(eventIterator(type<A>(), type<void>())),
  forever: oc.route({ method: 'GET', path: '/forever' }).input(type<ForeverInput>()).output(eventIterator(type<TickK>(), type<void>())),
  limited: oc.route({ method: 'POST', path: '/limited' }).errors({ RATE_LIMITED: { status: 429, message: 'slow down', data: type<RetryAfter>() } }).input(type<void>()).output(type<LimitedOutput>()),
  meta: oc.route({ method: 'POST', path: '/meta' }).input(type<void>()).output(eventIterator(type<N>(), type<void>())),
  panic: oc.route({ method: 'POST', path: '/panic' }).input(type<void>()).output(eventIterator(type<A>(), type<void>())),
  stats: oc.route({ method: 'POST', path: '/stats' }).input(type<void>()).output(type<StatsOutput>()),
  text: oc.route({ method: 'POST', path: '/text' }).input(type<TextInput>()).output(eventIterator(type<string>(), type<void>())),
  types: oc.route({ method: 'POST', path: '/types' }).input(type<Types>()).output(eventIterator(type<Types>(), type<Types>())),
  upload: oc.route({ method: 'POST', path: '/upload' }).input(type<UploadInput>()).output(type<Uploaded>()),
  validated: oc.route({ method: 'POST', path: '/validated' }).input(type<ValidatedInput>()).output(eventIterator(type<Value>(), type<void>())),
}
