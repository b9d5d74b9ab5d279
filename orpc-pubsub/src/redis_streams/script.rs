//! The two Lua scripts the Redis backend runs, and the parsing of their replies.
//!
//! Scripts make each step atomic on the server, which the gap check needs: the stream's
//! `max-deleted-entry-id` is read in the same step as the entries, so no deletion can slip
//! between "nothing after this id was deleted" and "here is what follows it".
//!
//! Retention deletes with `XDEL`, not with `XADD .. MAXLEN` or `XTRIM`: Redis 7 raises
//! `max-deleted-entry-id` on `XDEL` but not when it trims, and that id is what tells "the
//! subscriber's last id was the newest message retention dropped, nothing is missing" from
//! "messages after it were dropped". Deleting the oldest entries one batch at a time costs about
//! what trimming does, and a listpack node is freed once all its entries are deleted.
//!
//! - `PUBLISH` appends with `XADD`, then applies retention: the count, and the age measured by
//!   Redis's own clock so that every instance agrees.
//! - `WINDOW` applies retention too (so an idle stream still expires), then returns the
//!   stream's last generated and max deleted ids, whether a given id is present, and one range.
//!
//! The [oRPC-compatible](crate::RedisFormat::OrpcCompatible) format has its own `PUBLISH`
//! (`PUBLISH_ORPC`) and retains as oRPC does, so its `WINDOW` deletes nothing: there `XDEL` would
//! not help, since oRPC's own publishers trim with `XTRIM`, and its reader counts instead (see
//! `reader.rs`).
//!
//! `Script::invoke_async` sends `EVALSHA` and loads the script again when Redis answers
//! `NOSCRIPT`, as it does after a restart.

use bytes::Bytes;
use redis::aio::ConnectionLike;
use redis::{ErrorKind, ServerErrorKind, Value};

use super::orpc;
use crate::{Durability, Error, Message, MessageId, RedisFormat, Retention, TraceContext};

/// Deletes what retention no longer keeps from `key`: beyond `max_len` entries, and older
/// than `age_ms` (0: no limit). Each pass deletes at most 1000 ids (Lua's `unpack` has a
/// limit); the passes end because each one deletes what it found.
const RETAIN: &str = r"
local function delete(key, entries)
  local ids = {}
  for i, entry in ipairs(entries) do
    ids[i] = entry[1]
  end
  redis.call('XDEL', key, unpack(ids))
end

local function retain(key, max_len, age_ms)
  local excess = redis.call('XLEN', key) - max_len
  while excess > 0 do
    local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', math.min(excess, 1000))
    if #oldest == 0 then
      break
    end
    delete(key, oldest)
    excess = excess - #oldest
  end
  if age_ms > 0 then
    local now = redis.call('TIME')
    local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - age_ms
    if cutoff > 0 then
      local before = '(' .. string.format('%.0f', cutoff) .. '-0'
      while true do
        local expired = redis.call('XRANGE', key, '-', before, 'COUNT', 1000)
        if #expired == 0 then
          break
        end
        delete(key, expired)
      end
    end
  end
end
";

/// `KEYS[1]`: the stream; `ARGV`: payload, max length, max age in ms (0: none), (unused),
/// the notification's command: `PUBLISH`, or `SPUBLISH` on a cluster, the publish's
/// `traceparent` and `tracestate` ('' for none). The entry's fields: `p`, the payload; `t` and
/// `s`, the trace context, when there is one. The notification, on the stream's key, carries the
/// new id and wakes the readers subscribed to it (`connection.rs`).
const PUBLISH: &str = r"
local fields = {'p', ARGV[1]}
if ARGV[6] ~= '' then
  table.insert(fields, 't')
  table.insert(fields, ARGV[6])
  if ARGV[7] ~= '' then
    table.insert(fields, 's')
    table.insert(fields, ARGV[7])
  end
end
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
retain(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
redis.call(ARGV[5], KEYS[1], id)
return id
";

/// oRPC's `IORedisPublisher` publish, in one atomic step where oRPC takes two or three round
/// trips: `XADD` of the entry in field `data`, `XTRIM MINID ~` of what is older than the
/// retention age (`resumeRetentionSeconds`) by Redis's clock, the key's expiry at twice that age
/// (oRPC sets it once per retention period; refreshing it on every publish only keeps a busy
/// channel longer), then the notification: the entry's JSON with `"id"` added, which oRPC's
/// subscribers read. The count limit trims too, approximately (`MAXLEN ~`), which oRPC's readers
/// do not notice either.
///
/// Being one step, a message is never stored without its notification (oRPC's `publish` can fail
/// between the two), and the notifications of this crate's publishers are in stream order.
///
/// `KEYS[1]`: the stream, also the channel; `ARGV`: the entry (a JSON object), max length, max
/// age in ms, the key's expiry in ms.
const PUBLISH_ORPC: &str = r#"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[1])
local now = redis.call('TIME')
local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[3])
if cutoff > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', cutoff) .. '-0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', KEYS[1], string.sub(ARGV[1], 1, -2) .. ',"id":"' .. id .. '"}')
return id
"#;

/// Retention for the oRPC-compatible format: only publishing trims, as with oRPC.
const KEEP: &str = r"
local function retain(key, max_len, age_ms)
end
";

/// `KEYS[1]`: the stream; `ARGV`: the id to check ('' for none), range start, range end ('' for
/// no range), count, max length, max age in ms.
const WINDOW: &str = r"
retain(KEYS[1], tonumber(ARGV[5]), tonumber(ARGV[6]))
local info = redis.pcall('XINFO', 'STREAM', KEYS[1])
if info['err'] then
  if string.find(info['err'], 'no such key', 1, true) then
    return {0}
  end
  return info
end
local last, deleted, first, added = '0-0', '0-0', '0-0', 0
for i = 1, #info - 1, 2 do
  if info[i] == 'last-generated-id' then
    last = info[i + 1]
  elseif info[i] == 'max-deleted-entry-id' then
    deleted = info[i + 1]
  elseif info[i] == 'recorded-first-entry-id' then
    first = info[i + 1]
  elseif info[i] == 'entries-added' then
    added = info[i + 1]
  end
end
local present = 0
if ARGV[1] ~= '' and #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) > 0 then
  present = 1
end
local entries = {}
if ARGV[3] ~= '' then
  entries = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])
end
return {1, last, deleted, present, entries, first, added}
";

/// The compiled scripts of one format, shared by every connection.
pub(super) struct Scripts {
    publish: redis::Script,
    window: redis::Script,
    format: RedisFormat,
}

/// Where a range ends.
pub(super) enum End {
    /// At this id, inclusive.
    At(MessageId),
    /// At the newest entry.
    Newest,
}

/// What `WINDOW` saw, atomically.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// Whether the stream exists.
    pub exists: bool,
    /// The last id Redis generated for the stream, `None` for `0-0`.
    pub last_generated: Option<MessageId>,
    /// The largest id deleted from it, by trimming or otherwise (`0-0` for none).
    pub max_deleted: Option<MessageId>,
    /// Whether the checked id is in the stream.
    pub present: bool,
    /// The range asked for.
    pub entries: Vec<Message>,
    /// The oldest entry's id, `None` when the stream is empty.
    pub first: Option<MessageId>,
    /// How many entries were ever added to the stream, deleted ones included.
    pub added: u64,
}

/// The max age argument of the scripts: milliseconds, 0 for none.
fn age_ms(retention: &Retention) -> u64 {
    retention.age().map_or(0, |age| {
        u64::try_from(age.as_millis()).unwrap_or(u64::MAX).max(1)
    })
}

impl Scripts {
    pub fn new(format: RedisFormat) -> Self {
        let (publish, retain) = match format {
            RedisFormat::Native => (format!("{RETAIN}{PUBLISH}"), RETAIN),
            RedisFormat::OrpcCompatible => (PUBLISH_ORPC.to_owned(), KEEP),
        };
        Scripts {
            publish: redis::Script::new(&publish),
            window: redis::Script::new(&format!("{retain}{WINDOW}")),
            format,
        }
    }

    /// Appends `payload`, with `trace` in the native format, and announces it with `notify`
    /// (`PUBLISH` or `SPUBLISH`); with [`Durability::Replicas`], also waits, in the same pipeline
    /// on the same connection, until that many replicas have it.
    #[allow(clippy::too_many_arguments)]
    pub async fn publish(
        &self,
        conn: &mut impl ConnectionLike,
        key: &[u8],
        payload: &[u8],
        trace: Option<&TraceContext>,
        retention: Retention,
        notify: &str,
        durability: Durability,
    ) -> Result<MessageId, Error> {
        let age = age_ms(&retention);
        let traceparent = trace.map_or("", TraceContext::traceparent);
        let tracestate = trace.and_then(TraceContext::tracestate).unwrap_or("");
        let Durability::Replicas { count, timeout } = durability else {
            let reply: Value = self
                .publish
                .key(key)
                .arg(payload)
                .arg(retention.max_len())
                .arg(age)
                .arg(age.saturating_mul(2))
                .arg(notify)
                .arg(traceparent)
                .arg(tracestate)
                .invoke_async(conn)
                .await
                .map_err(Error::unavailable)?;
            return published_id(&reply);
        };
        // `WAIT` counts the replicas that have every write this connection sent before it, so it
        // goes in one pipeline with the script: the pipeline is written at once to the node the
        // script's key is on, and no reconnection can come between the two.
        let mut pipe = redis::pipe();
        pipe.cmd("EVALSHA")
            .arg(self.publish.get_hash())
            .arg(1)
            .arg(key)
            .arg(payload)
            .arg(retention.max_len())
            .arg(age)
            .arg(age.saturating_mul(2))
            .arg(notify)
            .arg(traceparent)
            .arg(tracestate);
        let timeout_ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        pipe.cmd("WAIT").arg(count).arg(timeout_ms);
        let mut reply = pipe.query_async::<(Value, u32)>(conn).await;
        if matches!(&reply, Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript))
        {
            // The script ran nowhere: load it (on every master of a cluster) and send again.
            self.publish
                .prepare_invoke()
                .load_async(conn)
                .await
                .map_err(Error::unavailable)?;
            reply = pipe.query_async(conn).await;
        }
        let (id, replicas) = reply.map_err(Error::unavailable)?;
        let id = published_id(&id)?;
        if replicas < count {
            return Err(Error::NotReplicated {
                id,
                replicas,
                required: count,
            });
        }
        Ok(id)
    }

    /// Reads the stream's ids and the range `[start, end]` (none when `end` is `None`, from the
    /// oldest entry when `start` is `None`), checking whether `check` is present.
    #[allow(clippy::too_many_arguments)]
    pub async fn window(
        &self,
        conn: &mut impl ConnectionLike,
        key: &[u8],
        check: Option<MessageId>,
        start: Option<MessageId>,
        end: Option<End>,
        count: usize,
        retention: Retention,
    ) -> Result<Window, Error> {
        let check = check.map_or_else(String::new, |id| id.to_string());
        let start = start.map_or_else(|| "-".to_owned(), |id| id.to_string());
        let end = match end {
            None => String::new(),
            Some(End::Newest) => "+".to_owned(),
            Some(End::At(id)) => id.to_string(),
        };
        let reply: Value = self
            .window
            .key(key)
            .arg(check)
            .arg(start)
            .arg(end)
            .arg(count.max(1))
            .arg(retention.max_len())
            .arg(age_ms(&retention))
            .invoke_async(conn)
            .await
            .map_err(Error::unavailable)?;
        parse_window(reply, self.format)
    }
}

fn parse_window(reply: Value, format: RedisFormat) -> Result<Window, Error> {
    let Value::Array(items) = reply else {
        return Err(unexpected("WINDOW"));
    };
    let mut items = items.into_iter();
    match items.next() {
        Some(Value::Int(0)) => return Ok(Window::default()),
        Some(Value::Int(1)) => {}
        _ => return Err(unexpected("WINDOW")),
    }
    let (
        Some(last),
        Some(deleted),
        Some(Value::Int(present)),
        Some(entries),
        Some(first),
        Some(Value::Int(added)),
    ) = (
        items.next(),
        items.next(),
        items.next(),
        items.next(),
        items.next(),
        items.next(),
    )
    else {
        return Err(unexpected("WINDOW"));
    };
    let id = |value: &Value| {
        text(value)
            .and_then(MessageId::parse_stream)
            .ok_or_else(|| unexpected("XINFO"))
    };
    let zero = MessageId::stream(0, 0);
    Ok(Window {
        exists: true,
        last_generated: Some(id(&last)?).filter(|id| *id != zero),
        max_deleted: Some(id(&deleted)?),
        present: present == 1,
        entries: parse_entries(entries, format)?,
        first: Some(id(&first)?).filter(|id| *id != zero),
        added: u64::try_from(added).unwrap_or(0),
    })
}

/// `XRANGE`'s reply: `[[id, [field, value, ..]], ..]`.
///
/// In the native format the payload is field `p`; an entry written by someone else without it
/// has an empty payload rather than failing the channel. In oRPC's, the payload is the value of
/// the first field, whatever its name, as oRPC reads it, and one that is not oRPC's serialized
/// payload is an unreadable message.
fn parse_entries(reply: Value, format: RedisFormat) -> Result<Vec<Message>, Error> {
    let Value::Array(entries) = reply else {
        return Err(unexpected("XRANGE"));
    };
    entries
        .into_iter()
        .map(|entry| {
            let Value::Array(parts) = entry else {
                return Err(unexpected("XRANGE"));
            };
            let mut parts = parts.into_iter();
            let id = parts
                .next()
                .as_ref()
                .and_then(text)
                .and_then(MessageId::parse_stream)
                .ok_or_else(|| unexpected("XRANGE"))?;
            let fields = match parts.next() {
                Some(Value::Array(fields)) => fields,
                _ => Vec::new(),
            };
            if format == RedisFormat::OrpcCompatible {
                return Ok(match fields.into_iter().nth(1) {
                    Some(Value::BulkString(data)) => orpc::read(id, data),
                    _ => Message::unreadable(id, "the entry has no field"),
                });
            }
            let (mut payload, mut traceparent, mut tracestate) = (Bytes::new(), None, None);
            let mut fields = fields.into_iter();
            while let (Some(Value::BulkString(field)), Some(Value::BulkString(value))) =
                (fields.next(), fields.next())
            {
                match &field[..] {
                    b"p" => payload = Bytes::from(value),
                    b"t" => traceparent = String::from_utf8(value).ok(),
                    b"s" => tracestate = String::from_utf8(value).ok(),
                    _ => {}
                }
            }
            let message = Message::new(id, payload);
            Ok(match traceparent {
                Some(traceparent) => message.with_trace_context(TraceContext::new(
                    traceparent,
                    tracestate.unwrap_or_default(),
                )),
                None => message,
            })
        })
        .collect()
}

fn published_id(reply: &Value) -> Result<MessageId, Error> {
    text(reply)
        .and_then(MessageId::parse_stream)
        .ok_or_else(|| unexpected("XADD"))
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

fn unexpected(what: &str) -> Error {
    Error::unavailable(format_args!("unexpected reply from Redis to {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_window_reply_parses_and_foreign_entries_do_not_fail() {
        let reply = Value::Array(vec![
            Value::Int(1),
            bulk("5-0"),
            bulk("2-0"),
            Value::Int(1),
            Value::Array(vec![
                Value::Array(vec![bulk("3-0"), Value::Array(vec![bulk("p"), bulk("x")])]),
                Value::Array(vec![
                    bulk("4-0"),
                    Value::Array(vec![bulk("other"), bulk("y")]),
                ]),
            ]),
            bulk("3-0"),
            Value::Int(4),
        ]);
        let window = parse_window(reply.clone(), RedisFormat::Native).unwrap();
        assert!(window.exists && window.present);
        assert_eq!(window.last_generated, Some(MessageId::stream(5, 0)));
        assert_eq!(window.max_deleted, Some(MessageId::stream(2, 0)));
        assert_eq!(window.entries[0].payload().as_ref(), b"x");
        assert_eq!(window.entries[1].payload().as_ref(), b"");
        assert_eq!(
            (window.first, window.added),
            (Some(MessageId::stream(3, 0)), 4)
        );
        let native = RedisFormat::Native;
        assert!(
            !parse_window(Value::Array(vec![Value::Int(0)]), native)
                .unwrap()
                .exists
        );
        assert!(parse_window(Value::Nil, native).is_err());
        assert!(parse_window(Value::Array(vec![Value::Int(1)]), native).is_err());

        // oRPC's format reads the first field whatever its name; what is not oRPC's payload is
        // unreadable, not an error of the whole window.
        let orpc = parse_window(reply, RedisFormat::OrpcCompatible).unwrap();
        assert!(orpc.entries.iter().all(|m| m.unreadable_reason().is_some()));
    }

    #[test]
    fn native_entries_carry_their_trace_context() {
        let entry = |fields: &[&str]| {
            let fields = fields.iter().map(|f| bulk(f)).collect();
            Value::Array(vec![bulk("1-0"), Value::Array(fields)])
        };
        let reply = Value::Array(vec![
            entry(&["p", "x", "t", "00-ab-cd-01", "s", "k=v"]),
            entry(&["p", "y", "t", "00-ab-cd-01"]),
            entry(&["p", "z"]),
        ]);
        let messages = parse_entries(reply, RedisFormat::Native).unwrap();
        let traces: Vec<_> = messages
            .iter()
            .map(|m| m.trace_context().map(|t| (t.traceparent(), t.tracestate())))
            .collect();
        assert_eq!(
            traces,
            [
                Some(("00-ab-cd-01", Some("k=v"))),
                Some(("00-ab-cd-01", None)),
                None
            ]
        );
        assert_eq!(messages[0].payload().as_ref(), b"x");
    }
}
