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
//! `Script::invoke_async` sends `EVALSHA` and loads the script again when Redis answers
//! `NOSCRIPT`, as it does after a restart.

use bytes::Bytes;
use redis::aio::ConnectionLike;
use redis::Value;

use crate::{Error, Message, MessageId, Retention};

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

/// `KEYS[1]`: the stream; `ARGV`: payload, max length, max age in ms (0: none).
const PUBLISH: &str = r"
local id = redis.call('XADD', KEYS[1], '*', 'p', ARGV[1])
retain(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return id
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
local last, deleted = '0-0', '0-0'
for i = 1, #info - 1, 2 do
  if info[i] == 'last-generated-id' then
    last = info[i + 1]
  elseif info[i] == 'max-deleted-entry-id' then
    deleted = info[i + 1]
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
return {1, last, deleted, present, entries}
";

/// The compiled scripts, shared by every connection.
pub(super) struct Scripts {
    publish: redis::Script,
    window: redis::Script,
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
}

/// The max age argument of the scripts: milliseconds, 0 for none.
fn age_ms(retention: &Retention) -> u64 {
    retention.age().map_or(0, |age| {
        u64::try_from(age.as_millis()).unwrap_or(u64::MAX).max(1)
    })
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            publish: redis::Script::new(&format!("{RETAIN}{PUBLISH}")),
            window: redis::Script::new(&format!("{RETAIN}{WINDOW}")),
        }
    }

    pub async fn publish(
        &self,
        conn: &mut impl ConnectionLike,
        key: &[u8],
        payload: &[u8],
        retention: Retention,
    ) -> Result<MessageId, Error> {
        let reply: Value = self
            .publish
            .key(key)
            .arg(payload)
            .arg(retention.max_len())
            .arg(age_ms(&retention))
            .invoke_async(conn)
            .await
            .map_err(Error::unavailable)?;
        text(&reply)
            .and_then(MessageId::parse_stream)
            .ok_or_else(|| unexpected("XADD"))
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
        parse_window(reply)
    }
}

fn parse_window(reply: Value) -> Result<Window, Error> {
    let Value::Array(items) = reply else {
        return Err(unexpected("WINDOW"));
    };
    let mut items = items.into_iter();
    match items.next() {
        Some(Value::Int(0)) => return Ok(Window::default()),
        Some(Value::Int(1)) => {}
        _ => return Err(unexpected("WINDOW")),
    }
    let (Some(last), Some(deleted), Some(Value::Int(present)), Some(entries)) =
        (items.next(), items.next(), items.next(), items.next())
    else {
        return Err(unexpected("WINDOW"));
    };
    let id = |value: &Value| {
        text(value)
            .and_then(MessageId::parse_stream)
            .ok_or_else(|| unexpected("XINFO"))
    };
    Ok(Window {
        exists: true,
        last_generated: Some(id(&last)?).filter(|id| *id != MessageId::stream(0, 0)),
        max_deleted: Some(id(&deleted)?),
        present: present == 1,
        entries: parse_entries(entries)?,
    })
}

/// `XRANGE`'s reply: `[[id, [field, value, ..]], ..]`. The payload is field `p`; an entry
/// written by someone else without it has an empty payload rather than failing the channel.
fn parse_entries(reply: Value) -> Result<Vec<Message>, Error> {
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
            let mut payload = Bytes::new();
            if let Some(Value::Array(fields)) = parts.next() {
                let mut fields = fields.into_iter();
                while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
                    if matches!(&field, Value::BulkString(f) if f == b"p") {
                        if let Value::BulkString(bytes) = value {
                            payload = Bytes::from(bytes);
                        }
                        break;
                    }
                }
            }
            Ok(Message::new(id, payload))
        })
        .collect()
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
        ]);
        let window = parse_window(reply).unwrap();
        assert!(window.exists && window.present);
        assert_eq!(window.last_generated, Some(MessageId::stream(5, 0)));
        assert_eq!(window.max_deleted, Some(MessageId::stream(2, 0)));
        assert_eq!(window.entries[0].payload().as_ref(), b"x");
        assert_eq!(window.entries[1].payload().as_ref(), b"");
        assert!(
            !parse_window(Value::Array(vec![Value::Int(0)]))
                .unwrap()
                .exists
        );
        assert!(parse_window(Value::Nil).is_err());
        assert!(parse_window(Value::Array(vec![Value::Int(1)])).is_err());
    }
}
