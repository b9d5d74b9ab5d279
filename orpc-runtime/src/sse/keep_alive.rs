//! When a quiet stream sends comments so that proxies and clients keep it open.
//!
//! The interval counts from the last bytes sent, so a busy stream sends no keep-alive at all.

use std::borrow::Cow;
use std::time::Duration;

/// Keep-alive and initial-comment settings of event-iterator responses.
///
/// ```
/// use std::time::Duration;
/// use orpc_runtime::sse::KeepAlive;
///
/// let quiet = KeepAlive::default().interval(None);
/// let custom = KeepAlive::default().interval(Some(Duration::from_secs(15))).comment("ping");
/// # let _ = (quiet, custom);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    pub(crate) interval: Option<Duration>,
    pub(crate) comment: Cow<'static, str>,
    pub(crate) initial_comment: Option<Cow<'static, str>>,
}

impl Default for KeepAlive {
    /// A comment every 5 s, and an empty initial comment, as oRPC does.
    fn default() -> Self {
        KeepAlive {
            interval: Some(Duration::from_secs(5)),
            comment: Cow::Borrowed(""),
            initial_comment: Some(Cow::Borrowed("")),
        }
    }
}

impl KeepAlive {
    /// How long a stream may stay silent before a keep-alive comment; `None` disables them.
    pub fn interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval.filter(|d| !d.is_zero());
        self
    }

    /// The keep-alive comment's text.
    pub fn comment(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.comment = text.into();
        self
    }

    /// The comment sent as soon as a stream opens, so that headers reach the client at once;
    /// `None` disables it.
    pub fn initial_comment(mut self, text: Option<impl Into<Cow<'static, str>>>) -> Self {
        self.initial_comment = text.map(Into::into);
        self
    }
}
