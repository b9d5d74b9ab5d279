//! Files, as oRPC's clients send and receive them: a field of type [`File`] in a procedure's
//! input takes an uploaded file, and a procedure may return one.
//!
//! A file travels beside the JSON, never in it: a request carrying files is a multipart form
//! (over RPC, oRPC's `data` part holding `{"json", "meta", "maps"}` and one part per file; over
//! OpenAPI, a plain `multipart/form-data` form), and the transport hands the files to the input's
//! deserializer through a table of this module, set for the time of that one call's decoding.
//! Within the JSON a file stands as a placeholder string, which is why its schema is a string
//! (`format: binary`).
//!
//! Going out, a file serializes into the table of the call being answered; anywhere else (an
//! event, a WebSocket answer) serializing one is an error, as oRPC refuses files in event
//! iterators.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};

/// An uploaded file, or one a procedure returns: its name, media type and bytes.
///
/// An upload is held in memory up to 256 KiB and in a temporary file beyond, which is removed
/// when the last clone of the `File` is dropped (a rejected upload leaves nothing on disk). Read
/// it whole with [`File::bytes`], or piece by piece with [`File::chunks`].
///
/// In an input, its schema is a string of format `binary` (a file field of a multipart form in
/// the OpenAPI document, `File` in the TypeScript contract).
///
/// ```
/// use orpc_runtime::{procedure, File, ORPCError};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Avatar {
///     user: String,
///     image: File,
/// }
///
/// /// Stores an avatar; answers its size.
/// #[procedure]
/// async fn set_avatar(input: Avatar) -> Result<u64, ORPCError> {
///     if !input.image.content_type().starts_with("image/") {
///         return Err(ORPCError::bad_request("an image, please"));
///     }
///     Ok(input.image.len())
/// }
///
/// /// A CSV export, sent as a file.
/// #[procedure]
/// async fn export() -> File {
///     File::new("export.csv", "text/csv", "a,b\n1,2\n")
/// }
/// ```
#[derive(Clone)]
pub struct File {
    name: String,
    content_type: String,
    len: u64,
    data: Data,
}

#[derive(Clone)]
enum Data {
    Memory(Bytes),
    /// Removed from the disk when the last clone drops.
    Disk(Arc<tempfile::TempPath>),
}

/// How much of an upload is held in memory before it goes to a temporary file.
pub(crate) const IN_MEMORY: usize = 256 * 1024;

/// The largest piece [`File::chunks`] reads from the disk at once.
const CHUNK: usize = 64 * 1024;

impl File {
    /// A file of `bytes`, named `name`, of media type `content_type`.
    ///
    /// ```
    /// let file = orpc_runtime::File::new("hello.txt", "text/plain", "hello");
    /// assert_eq!((file.name(), file.content_type(), file.len()), ("hello.txt", "text/plain", 5));
    /// ```
    pub fn new(
        name: impl Into<String>,
        content_type: impl Into<String>,
        bytes: impl Into<Bytes>,
    ) -> File {
        let bytes = bytes.into();
        File {
            name: name.into(),
            content_type: content_type.into(),
            len: bytes.len() as u64,
            data: Data::Memory(bytes),
        }
    }

    /// A file whose bytes are in the temporary file at `path`, `len` bytes long, removed when
    /// the last clone drops.
    pub(crate) fn on_disk(
        name: String,
        content_type: String,
        path: tempfile::TempPath,
        len: u64,
    ) -> File {
        File {
            name,
            content_type,
            len,
            data: Data::Disk(Arc::new(path)),
        }
    }

    /// The file's name, as the client gave it (`blob` for a `Blob` without one).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's media type, as the client gave it (`application/octet-stream` when none was).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where its bytes are on disk, for an upload too large to be held in memory.
    pub fn path(&self) -> Option<&Path> {
        match &self.data {
            Data::Memory(_) => None,
            Data::Disk(path) => Some(path),
        }
    }

    /// Its bytes, all in memory.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let file = orpc_runtime::File::new("a.txt", "text/plain", "abc");
    /// assert_eq!(&file.bytes().await?[..], b"abc");
    /// # Ok(()) }
    /// ```
    pub async fn bytes(&self) -> io::Result<Bytes> {
        match &self.data {
            Data::Memory(bytes) => Ok(bytes.clone()),
            Data::Disk(path) => tokio::fs::read(&**path).await.map(Bytes::from),
        }
    }

    /// Its bytes, a piece at a time, without holding the whole file in memory.
    ///
    /// ```
    /// use futures_util::TryStreamExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let file = orpc_runtime::File::new("a.txt", "text/plain", "abc");
    /// let pieces: Vec<_> = file.chunks().try_collect().await?;
    /// assert_eq!(pieces.concat(), b"abc");
    /// # Ok(()) }
    /// ```
    pub fn chunks(&self) -> impl Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static {
        match self.data.clone() {
            Data::Memory(bytes) => {
                futures_util::stream::iter((!bytes.is_empty()).then_some(Ok(bytes))).left_stream()
            }
            Data::Disk(path) => futures_util::stream::once(async move {
                let file = tokio::fs::File::open(&*path).await?;
                // The path lives as long as the stream, so the file is not removed under it.
                let reader = tokio_util::io::ReaderStream::with_capacity(file, CHUNK);
                Ok::<_, io::Error>(reader.map(move |piece| {
                    let _keep = &path;
                    piece
                }))
            })
            .map(|opened| match opened {
                Ok(reader) => reader.left_stream(),
                Err(error) => futures_util::stream::iter([Err(error)]).right_stream(),
            })
            .flatten()
            .boxed()
            .right_stream(),
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.len)
            .field("on_disk", &self.path().is_some())
            .finish()
    }
}

/// What a file is in the JSON of an input: `orpc-file:` and its index in the call's files.
const PLACEHOLDER: &str = "orpc-file:";

/// The placeholder of the `index`th file of a call.
pub(crate) fn placeholder(index: usize) -> serde_json::Value {
    serde_json::Value::String(format!("{PLACEHOLDER}{index}"))
}

thread_local! {
    /// The files of the input being deserialized on this thread, each taken once.
    static INCOMING: RefCell<Vec<Option<File>>> = const { RefCell::new(Vec::new()) };
    /// The files of the output being serialized on this thread, when files may go out.
    static OUTGOING: RefCell<Option<Vec<File>>> = const { RefCell::new(None) };
}

/// Makes `files` the ones an input's placeholders name while `f` deserializes it; answers its
/// result and the indexes of the files it did not take (a file sent where the input has a
/// string, say), which are dropped.
pub(crate) fn with_incoming<T>(files: Vec<File>, f: impl FnOnce() -> T) -> (T, Vec<usize>) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            INCOMING.with(|incoming| incoming.borrow_mut().clear());
        }
    }
    INCOMING.with(|incoming| *incoming.borrow_mut() = files.into_iter().map(Some).collect());
    let reset = Reset;
    let result = f();
    let untaken = INCOMING.with(|incoming| {
        let incoming = incoming.borrow();
        (0..incoming.len())
            .filter(|&i| incoming[i].is_some())
            .collect()
    });
    drop(reset);
    (result, untaken)
}

/// Serializes with `f` while files may go out; answers its result and the files serialized, in
/// the order of their placeholders' indexes.
pub(crate) fn with_outgoing<T>(f: impl FnOnce() -> T) -> (T, Vec<File>) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            OUTGOING.with(|outgoing| outgoing.borrow_mut().take());
        }
    }
    OUTGOING.with(|outgoing| *outgoing.borrow_mut() = Some(Vec::new()));
    let reset = Reset;
    let result = f();
    let files = OUTGOING.with(|outgoing| outgoing.borrow_mut().take().unwrap_or_default());
    drop(reset);
    (result, files)
}

/// The index a placeholder string names, if it is one.
pub(crate) fn placeholder_index(text: &str) -> Option<usize> {
    text.strip_prefix(PLACEHOLDER)?.parse().ok()
}

impl<'de> Deserialize<'de> for File {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<File, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = File;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file, sent in a multipart form")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<File, E> {
                let taken = placeholder_index(text).and_then(|index| {
                    INCOMING.with(|incoming| incoming.borrow_mut().get_mut(index)?.take())
                });
                taken
                    .ok_or_else(|| E::custom("expected a file, sent as a part of a multipart form"))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Serialize for File {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = OUTGOING.with(|outgoing| {
            let mut outgoing = outgoing.borrow_mut();
            let files = outgoing.as_mut()?;
            files.push(self.clone());
            Some(files.len() - 1)
        });
        match index {
            Some(index) => serializer.serialize_str(&format!("{PLACEHOLDER}{index}")),
            None => Err(ser::Error::custom(
                "a file can only be a plain procedure's output, not an event's",
            )),
        }
    }
}

impl JsonSchema for File {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "File".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "binary" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_takes_each_file_once_by_its_placeholder() {
        let files = vec![
            File::new("a", "text/plain", "A"),
            File::new("b", "text/plain", "B"),
        ];
        let value = serde_json::json!(["orpc-file:1", "orpc-file:0"]);
        let (taken, untaken) = with_incoming(files, || serde_json::from_value::<Vec<File>>(value));
        let taken = taken.unwrap();
        assert_eq!(
            (taken[0].name(), taken[1].name(), untaken),
            ("b", "a", vec![])
        );

        let files = vec![File::new("a", "text/plain", "A")];
        let twice = serde_json::json!(["orpc-file:0", "orpc-file:0"]);
        let (result, _) = with_incoming(files, || serde_json::from_value::<Vec<File>>(twice));
        assert!(result.is_err());

        // A placeholder read as a plain string leaves its file untaken.
        let files = vec![File::new("a", "text/plain", "A")];
        let text = serde_json::json!("orpc-file:0");
        let (result, untaken) = with_incoming(files, || serde_json::from_value::<String>(text));
        assert_eq!(
            (result.unwrap().as_str(), untaken),
            ("orpc-file:0", vec![0])
        );
        for forged in ["orpc-file:0", "orpc-file:x", "hello"] {
            let result = serde_json::from_value::<File>(serde_json::json!(forged));
            assert!(result.is_err(), "{forged}");
        }
    }

    #[test]
    fn an_output_lists_its_files_and_events_refuse_them() {
        let out = (File::new("a", "x/y", "1"), 7);
        let (json, files) = with_outgoing(|| serde_json::to_string(&out));
        assert_eq!(json.unwrap(), r#"["orpc-file:0",7]"#);
        assert_eq!(files.len(), 1);
        assert!(serde_json::to_string(&out).is_err());
    }
}
