//! Where things were written, and what is wrong with them: positions, origins, located problems and
//! "did you mean" suggestions. A leaf: manifests, resources and the plan engine all use it, it uses nothing.
//!
//! A problem is shown to a person as:
//!
//! ```text
//! agents.yaml:4:5: unknown key `sytem_prompt`
//!     4 |     sytem_prompt: { file: prompts/sales.md }
//!       |     ^^^^^^^^^^^^
//!   hint: did you mean `system_prompt`?
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Where an entry was declared: its file, its position, and the position of each of its keys and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub file: Arc<PathBuf>,
    /// The folder given to skyform: `{file:}` texts may not leave it.
    pub root: Arc<PathBuf>,
    pub pos: Pos,
    pub fields: Arc<HashMap<String, Pos>>,
}

impl Origin {
    /// The position of a field's value (`audience.lists.0`), or of the entry when the field is absent.
    pub fn of(&self, field: &str) -> Pos {
        self.fields.get(field).copied().unwrap_or(self.pos)
    }

    /// The position of a field's key, or of the entry.
    pub fn key(&self, field: &str) -> Pos {
        self.fields.get(&format!("{field}#key")).copied().unwrap_or(self.pos)
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    pub fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        Problem::at(&self.file, self.of(field), message)
    }

    /// `agents.yaml:4` for messages that point at another entry.
    pub fn short(&self) -> String {
        format!("{}:{}", self.file.display(), self.pos.line)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    /// None for problems of a whole file (unreadable, too large, not UTF-8).
    pub pos: Option<Pos>,
    /// How many characters the caret underlines.
    pub len: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn at(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Problem { file: file.to_path_buf(), pos: Some(pos), len: 1, message: message.into(), hint: None }
    }

    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Problem { file: file.to_path_buf(), pos: None, len: 1, message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn len(mut self, len: usize) -> Self {
        self.len = len.max(1);
        self
    }

    /// `file:line:col`, or just `file`.
    pub fn location(&self) -> String {
        match self.pos {
            Some(p) => format!("{}:{}:{}", self.file.display(), p.line, p.col),
            None => self.file.display().to_string(),
        }
    }
}

/// Every problem of a manifest set, with the sources needed to show the offending lines.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    pub list: Vec<Problem>,
    sources: BTreeMap<PathBuf, String>,
}

impl Problems {
    pub fn push(&mut self, p: Problem) {
        self.list.push(p);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Keeps a file's text so its lines can be quoted.
    pub fn keep_source(&mut self, file: &Path, text: &str) {
        self.sources.insert(file.to_path_buf(), text.to_string());
    }

    /// Sorted by file and position, so output is stable whatever order the checks ran in.
    pub fn sort(&mut self) {
        self.list.sort_by(|a, b| (&a.file, a.pos).cmp(&(&b.file, b.pos)).then(a.message.cmp(&b.message)));
        self.list.dedup();
    }

    /// The text a person reads: each problem with its line and caret, then a count.
    pub fn render(&self) -> String {
        self.render_as("problem")
    }

    /// [`Problems::render`], counting them as `what` (`warning`). Quoted lines have their control
    /// characters escaped: a manifest cannot redraw the reader's terminal.
    pub fn render_as(&self, what: &str) -> String {
        let mut out = String::new();
        for p in &self.list {
            // Warnings say so on their own line: they go to stderr next to errors from other steps.
            let tag = if what == "problem" { String::new() } else { format!("{what}: ") };
            let _ = writeln!(out, "{}: {tag}{}", p.location(), crate::redact::escape_controls(&p.message));
            if let (Some(pos), Some(text)) = (p.pos, self.sources.get(&p.file)) {
                if let Some(line) = text.lines().nth((pos.line as usize).saturating_sub(1)) {
                    let n = pos.line.to_string();
                    let pad = " ".repeat(n.len());
                    let shown: String = line.chars().take(200).collect::<String>().replace('\t', " ");
                    let indent: String =
                        shown.chars().take((pos.col as usize).saturating_sub(1)).map(|_| ' ').collect();
                    let _ = writeln!(out, "    {n} | {}", crate::redact::escape_controls(&shown));
                    let _ = writeln!(out, "    {pad} | {indent}{}", "^".repeat(p.len.min(120)));
                }
            }
            if let Some(h) = &p.hint {
                let _ = writeln!(out, "  hint: {}", crate::redact::escape_controls(h));
            }
        }
        let _ = writeln!(out, "{}", self.count_of(what));
        out
    }

    /// `2 problems in 1 file`.
    pub fn count_line(&self) -> String {
        self.count_of("problem")
    }

    fn count_of(&self, what: &str) -> String {
        let files: std::collections::BTreeSet<_> = self.list.iter().map(|p| &p.file).collect();
        // A folder is counted as a folder (an empty one is "1 problem in 1 folder", not "in 1 file").
        let (folders, files): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.is_dir());
        let n = |count: usize, one: &str| format!("{count} {one}{}", if count == 1 { "" } else { "s" });
        let places = match (files.len(), folders.len()) {
            (f, 0) => n(f, "file"),
            (0, d) => n(d, "folder"),
            (f, d) => format!("{} and {}", n(f, "file"), n(d, "folder")),
        };
        format!("{} {what}{} in {places}", self.list.len(), if self.list.len() == 1 { "" } else { "s" })
    }
}

/// The closest of `options` to `word`, if it is close enough to be what was meant (optimal string
/// alignment: a swap of two letters is one edit), for "did you mean" hints.
pub fn closest<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    options
        .iter()
        .map(|o| (strsim::osa_distance(&lower, &o.to_lowercase()), *o))
        .filter(|(d, o)| *d <= (o.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_words() {
        let keys = ["name", "system_prompt", "instruction_prompt", "is_active"];
        assert_eq!(closest("sytem_prompt", &keys), Some("system_prompt"));
        assert_eq!(closest("isactive", &keys), Some("is_active"));
        assert_eq!(closest("nmae", &keys), Some("name"));
        assert_eq!(closest("colour", &keys), None);
    }
}
