//! Contact tags (`/tags`). Natural key: `title`.
//!
//! [doc] §3 Tags: the list is unpaginated; `title` at most 100 characters; PUT renames (contacts keep the
//! tag); DELETE removes the tag from every contact, permanently. Which contacts carry a tag is contact data,
//! not configuration: skyform manages the tags themselves. The apply lease's lock tags are not
//! configuration and stay invisible: never matched, pruned, shown or exported, and no manifest may name one.

use super::{Checks, Ensure, Entry, Lookups, Managed, Origin, Resource};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Titles of the apply lease's tags start with this (see `apply::lease`).
pub const LOCK_PREFIX: &str = "skyform-lock ";

/// [doc] The API's limit on a tag's title, in characters.
const MAX_TITLE: usize = 100;

/// A contact tag.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagSpec {
    /// Pins this entry to one live tag (to rename it, or when titles repeat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The natural key, at most 100 characters.
    pub title: String,
    /// `absent` deletes the live object this entry names.
    #[serde(default, skip_serializing_if = "Ensure::is_present")]
    pub ensure: Ensure,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for TagSpec {
    const LABEL: &'static str = "tag";
    const PLURAL: &'static str = "tags";
    const TITLE: &'static str = "Tags";
    const KEY_FIELD: &'static str = "title";

    fn natural_key(&self) -> String {
        self.title.clone()
    }
    super::entry_fields!();

    fn check(&self, c: &mut Checks) {
        let o = &self.origin;
        c.short_text(o, "title", &self.title);
        let n = self.title.chars().count();
        if n > MAX_TITLE {
            c.push(o.problem("title", format!("`title` is {n} characters; the API allows at most {MAX_TITLE}")));
        }
        if is_reserved(&self.title) {
            c.push(
                o.problem("title", "titles starting with `skyform-lock` are the apply lease's own tags")
                    .hint("choose another title"),
            );
        }
    }
}

/// A tag as the API returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LiveTag {
    pub id: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub contacts_count: Option<u64>,
}

/// `/tags`: unpaginated.
pub struct Tags;

impl Resource for Tags {
    const KIND: super::Kind = super::Kind::Tags;
    const PATH: &'static str = "/tags";
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/tags.rs"];
    type Live = LiveTag;
    fn live_id(l: &LiveTag) -> u64 {
        l.id
    }
    fn live_key(l: &LiveTag) -> String {
        l.title.clone()
    }
    fn hidden(l: &LiveTag) -> bool {
        is_reserved(&l.title)
    }
    fn delete_loses(l: &LiveTag) -> Option<String> {
        contacts_lose(l.contacts_count, "the tag")
    }
    fn summary(l: &LiveTag) -> Value {
        json!({"id": l.id, "title": l.title})
    }
}

/// Titles the lease reserves: `skyform-lock...`, compared as servers store them (trimmed, any case), so
/// neither a manifest nor a live tag can pass for one or hide behind one.
pub fn is_reserved(title: &str) -> bool {
    title.trim_start().to_lowercase().starts_with(LOCK_PREFIX.trim_end())
}

/// `N contacts lose <what>` when some do.
pub(crate) fn contacts_lose(count: Option<u64>, what: &str) -> Option<String> {
    match count {
        Some(0) => None,
        Some(1) => Some(format!("1 contact loses {what}, which cannot be undone")),
        Some(n) => Some(format!("{n} contacts lose {what}, which cannot be undone")),
        None => Some(format!("its contacts lose {what}, which cannot be undone")),
    }
}

impl Managed for TagSpec {
    type R = Tags;

    fn desired(&self, _: &Lookups) -> Result<super::Fields, Problem> {
        Ok(vec![("title", super::canon_short(&self.title))])
    }

    fn live_fields(l: &LiveTag) -> super::Fields {
        vec![("title", super::canon_short(&l.title))]
    }

    fn body(&self, _: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
        let mut body = Map::new();
        body.insert("title".into(), self.title.trim().into());
        Ok(body)
    }

    fn from_live(l: &LiveTag, _: &Lookups) -> Result<Self, String> {
        if l.title.trim().is_empty() {
            return Err("its title is blank, which a manifest cannot declare".into());
        }
        Ok(TagSpec { id: None, title: l.title.clone(), ensure: Ensure::Present, origin: Origin::default() })
    }
}
