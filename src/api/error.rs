//! What went wrong with one API request: which request, what the API said, and whether retrying is safe.

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The API answered with an error status.
    Status(u16),
    /// No answer in time: the request may or may not have been executed.
    Timeout,
    /// The connection could not be opened: the request was not sent.
    Connect,
    /// The connection broke after sending: the request may or may not have been executed.
    Dropped,
    /// The answer could not be read as the contract says.
    Decode,
    /// A write whose outcome cannot be known yet: it may still land (its answer was lost, and there was no
    /// time left to wait until it no longer could). Left for the next run; never sent again blindly.
    OutcomeUnknown,
    /// The overall deadline (`--timeout`) passed, or the run was interrupted, before the request could be sent.
    Stopped,
    /// A list changed while its pages were read, on every try: no snapshot to plan from.
    Moving,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ApiError {
    pub method: String,
    /// The path under the base URL, e.g. `/webhooks/3` (never the key, never the host's credentials).
    pub path: String,
    pub failure: Failure,
    /// The API's `message`, or what the transport saw.
    pub message: String,
    /// Laravel-style `errors` of a 422: field → messages.
    pub field_errors: Vec<(String, Vec<String>)>,
    /// Seconds to wait, from a 429's body, `Retry-After` or `X-RateLimit-Reset`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self.failure {
            Failure::Status(s) => Some(s),
            _ => None,
        }
    }

    /// Safe and useful to try again for an idempotent request (GET, PUT, DELETE).
    pub fn is_transient(&self) -> bool {
        match self.failure {
            Failure::Status(s) => s >= 500,
            Failure::Timeout | Failure::Connect | Failure::Dropped => true,
            Failure::Decode | Failure::OutcomeUnknown | Failure::Stopped | Failure::Moving => false,
        }
    }

    /// A POST that failed this way may have been executed: look before trying again.
    pub fn is_ambiguous(&self) -> bool {
        match self.failure {
            Failure::Status(s) => s >= 500,
            Failure::Timeout | Failure::Dropped => true,
            Failure::Connect | Failure::Decode | Failure::OutcomeUnknown | Failure::Stopped | Failure::Moving => false,
        }
    }

    pub(crate) fn decode(method: &str, path: &str, message: impl Into<String>) -> Self {
        ApiError::other(method, path, Failure::Decode, message)
    }

    pub(crate) fn other(method: &str, path: &str, failure: Failure, message: impl Into<String>) -> Self {
        ApiError {
            method: method.into(),
            path: path.into(),
            failure,
            message: message.into(),
            field_errors: Vec::new(),
            retry_after: None,
        }
    }
}

impl ApiError {
    /// `PUT /team/3 answered 422: ...` and each field's complaint.
    fn describe(&self) -> String {
        let mut out = format!("{} {} ", self.method, self.path);
        let _ = match self.failure {
            Failure::Status(s) => write!(out, "answered {s}: {}", self.message),
            Failure::Timeout => write!(out, "timed out: {}", self.message),
            Failure::Connect => write!(out, "could not connect: {}", self.message),
            Failure::Dropped => write!(out, "lost its connection: {}", self.message),
            Failure::Decode => write!(out, "gave an unreadable answer: {}", self.message),
            Failure::OutcomeUnknown => write!(out, "has an unknown outcome: {}", self.message),
            Failure::Stopped => write!(out, "was not sent: {}", self.message),
            Failure::Moving => write!(out, "is not one snapshot: {}", self.message),
        };
        for (field, messages) in &self.field_errors {
            let _ = write!(out, "\n  {field}: {}", messages.join(" "));
        }
        out
    }
}

impl From<ApiError> for crate::Error {
    fn from(e: ApiError) -> Self {
        let hint = match e.failure {
            Failure::Status(401) => Some(
                "the API did not accept the key: check SKYLIGHT_API_KEY, or the variable the account's settings.api_key_env names",
            ),
            Failure::Status(403) => Some("the account is inactive, or this machine is not on its origin allow-list"),
            Failure::Status(429) => Some("the key's rate limit was exhausted; lower --rate-share or try again later"),
            Failure::Connect => Some("check --api-url / SKYLIGHT_API_URL and the network"),
            Failure::Moving => {
                Some("something is changing the account right now; run the plan again when it is quieter")
            }
            Failure::Timeout | Failure::Dropped => {
                Some("the request may or may not have been executed; re-run plan to see")
            }
            _ => None,
        };
        let mut err = crate::Error::new(crate::ErrorKind::Api, e.to_string());
        err.api = Some(Box::new(crate::error::ApiDetails {
            method: e.method.clone(),
            path: e.path.clone(),
            status: e.status(),
            message: e.message.clone(),
            field_errors: e.field_errors.clone(),
        }));
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }
}
