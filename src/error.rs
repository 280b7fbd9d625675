//! One error type for everything a person or a pipeline reads. Its [`ErrorKind`] chooses the exit code and
//! is part of the `--format json` form; a hint says what to do; located manifest problems and the API's
//! structured answer are kept, not flattened into a string.
//!
//! Exit codes (the README's table is this one):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success; for `plan`, nothing to change, or (without `--detailed-exitcode`) a plan that can be applied |
//! | 1 | an error: usage, input, the API, local files, or a refusal for safety |
//! | 2 | `plan --detailed-exitcode`: the plan has changes, and all of them can be applied |
//! | 3 | blocked: the plan cannot be applied as it is (refused changes, the delete guard, a stale saved plan) |
//! | 130 | interrupted |

use crate::source::Problems;
use serde::Serialize;
use serde_json::{json, Value};

/// What kind of failure, for people and machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad command-line arguments. Exit 1.
    Usage,
    /// Bad input: manifests, seeds, plan files, variables. Exit 1.
    Input,
    /// Refused for safety before anything was sent: a plain-http URL, no confirmation, no secrets sink.
    /// Exit 1.
    Refused,
    /// The plan cannot be applied as it is: refused changes, the delete guard, a stale saved plan. Exit 3.
    Blocked,
    /// The API answered an error or could not be reached. Exit 1.
    Api,
    /// Reading or writing local files, binding sockets. Exit 1.
    Io,
    /// Stopped by SIGINT or SIGTERM. Exit 130.
    Interrupted,
}

impl ErrorKind {
    /// The process exit code for this kind of failure.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Blocked => 3,
            ErrorKind::Interrupted => 130,
            _ => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Input => "input",
            ErrorKind::Refused => "refused",
            ErrorKind::Blocked => "blocked",
            ErrorKind::Api => "api",
            ErrorKind::Io => "io",
            ErrorKind::Interrupted => "interrupted",
        }
    }
}

/// The API's answer, kept whole (filled by `api`'s `From<ApiError>`; this module stays a leaf).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiDetails {
    pub method: String,
    pub path: String,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    pub message: String,
    /// A 422's field errors: field → messages.
    pub field_errors: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// Located manifest problems, when that is what went wrong (shown with their lines and carets).
    pub problems: Option<Box<Problems>>,
    /// The API's answer, when that is what went wrong.
    pub api: Option<Box<ApiDetails>>,
    /// Flags that, added to the same command line, do what the hint says (`--allow-deletes webhooks`):
    /// the command line prints that whole command, runnable as printed.
    pub rerun: Vec<String>,
    /// Another skyform command that does what the hint says (`unlock 42`): the command line prints it with
    /// the flags that reach the same account (`--api-url`, `--sandbox`, ...), runnable as printed.
    pub suggest: Vec<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            problems: None,
            api: None,
            rerun: Vec::new(),
            suggest: Vec::new(),
        }
    }

    /// Located manifest problems, rendered with their lines and carets.
    pub fn problems(p: Problems) -> Self {
        let message = format!("{} in the manifests", p.count_line());
        Error {
            kind: ErrorKind::Input,
            message,
            hint: None,
            problems: Some(Box::new(p)),
            api: None,
            rerun: Vec::new(),
            suggest: Vec::new(),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// See [`Error::suggest`].
    pub fn with_suggest(mut self, words: Vec<String>) -> Self {
        self.suggest = words;
        self
    }

    /// See [`Error::rerun`].
    pub fn with_rerun(mut self, flags: Vec<String>) -> Self {
        self.rerun = flags;
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }

    /// For a person: `error: ...` and a hint, or the located problems.
    pub fn render(&self) -> String {
        if let Some(p) = &self.problems {
            return p.render();
        }
        // Messages name objects of the account and paths: their control characters are escaped.
        let mut out = format!("error: {}\n", crate::redact::escape_lines(&self.message));
        if let Some(h) = &self.hint {
            out.push_str(&format!("  hint: {}\n", crate::redact::escape_lines(h)));
        }
        out
    }

    /// For a machine (`--format json`): `{"error": {"kind", "message", "hint", "exit_code", "problems",
    /// "api"}}`.
    pub fn to_json(&self) -> Value {
        let problems: Option<Vec<Value>> = self.problems.as_ref().map(|p| {
            p.list
                .iter()
                .map(|p| {
                    json!({
                        "file": p.file.display().to_string(),
                        "line": p.pos.map(|x| x.line),
                        "column": p.pos.map(|x| x.col),
                        "message": p.message,
                        "hint": p.hint,
                    })
                })
                .collect()
        });
        json!({"error": {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code(),
            "problems": problems,
            "api": self.api,
            // What a machine can do about it: flags to add to the same command, or another command.
            "rerun_with": (!self.rerun.is_empty()).then_some(&self.rerun),
            "suggest": (!self.suggest.is_empty()).then_some(&self.suggest),
        }})
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
