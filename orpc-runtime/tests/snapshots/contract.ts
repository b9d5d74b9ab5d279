// The oRPC contract of an orpc-rs router, generated from its schemas. Do not edit: generate it again.

import { eventIterator, oc, type } from '@orpc/contract'

export type Adjacent = {
  c: number
  t: "Num"
} | {
  c: string
  t: "Text"
}

export type Conflict = {
  existing: number
}

/** Externally tagged, the default. */
export type External = "Unit" | {
  New: number
} | {
  Tuple: [number, number]
} | {
  Struct: {
    x: number
  }
}

export type Internal = {
  r: number
  type: "Circle"
} | {
  side: number
  type: "Square"
}

/** Unit variants only: a string union. */
export type Kind = "Admin" | "Member"

/** A user, with the field shapes serde allows. */
export type Profile = {
  city: string
  displayName: string
  /** Absent or null. */
  nickname?: string | null
  pair: [number, string]
  scores: {
    [key: string]: number
  }
  tags?: string[]
  type: Kind
  /** The user's id. */
  userId: number
}

export type Room = {
  room: string
}

export type Shapes = {
  adjacent: Adjacent
  external: External
  internal: Internal
  tree: Tree
  untagged: Untagged
}

/** A recursive type. */
export type Tree = {
  children: Tree[]
  value: number
}

export type Untagged = number | string

export const contract = {
  save: oc.route({ method: 'POST', path: '/save' }).errors({ NAME_TAKEN: { status: 409, message: 'taken', data: type<Conflict>() }, FORBIDDEN: { status: 403, message: 'Forbidden' }, "x-custom": { status: 500, message: 'x-custom' } }).input(type<Profile>()).output(type<boolean>()),
  shapes: {
    all: oc.route({ method: 'GET', path: '/shapes' }).input(type<void>()).output(eventIterator(type<Shapes>(), type<void>())),
    count: oc.route({ method: 'POST', path: '/shapes/count' }).input(type<number[]>()).output(eventIterator(type<string>(), type<number | null>())),
  },
  ticks: oc.route({ method: 'GET', path: '/rooms/{room}/ticks' }).input(type<Room>()).output(eventIterator(type<number>(), type<void>())),
}
