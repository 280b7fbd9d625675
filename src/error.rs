//! One error type for everything a person reads. Its kind chooses the exit code; a hint says what to do.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad command-line arguments.
    Usage,
    /// Bad input files (manifests, seeds, state).
    Input,
    /// Something refused for safety (a non-loopback bind, a dangerous plan).
    Refused,
    /// The API answered an error or could not be reached.
    Api,
    /// Reading or writing local files, binding sockets.
    Io,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// Already formatted for a person (located manifest problems): printed as is.
    pub preformatted: bool,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, preformatted: false }
    }

    /// Located manifest problems, rendered with their lines and carets.
    pub fn problems(p: &crate::manifest::problem::Problems) -> Self {
        Error { kind: ErrorKind::Input, message: p.render(), hint: None, preformatted: true }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Every error exits 1: 2 is reserved for `plan --detailed-exitcode` ("changes present"), so that a
    /// usage mistake in CI is never read as "changes".
    pub fn exit_code(&self) -> i32 {
        1
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.preformatted {
            return f.write_str(self.message.trim_end());
        }
        write!(f, "error: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<crate::sandbox::SandboxError> for Error {
    fn from(e: crate::sandbox::SandboxError) -> Self {
        use crate::sandbox::SandboxError as S;
        match &e {
            S::NotLoopback(_) => Error::new(ErrorKind::Refused, e.to_string())
                .with_hint("the sandbox is for tests and demos on this machine; pass --addr 127.0.0.1:PORT"),
            S::Bind { .. } => Error::new(ErrorKind::Io, e.to_string()).with_hint(
                "another process may use that port; pick another with --addr 127.0.0.1:PORT (port 0 picks a free one)",
            ),
            S::State(_) => Error::new(ErrorKind::Input, e.to_string())
                .with_hint("fix the file, or start without it to get an empty account"),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
