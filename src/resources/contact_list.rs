//! Contact lists (`/contacts/lists`) and segments (`/contacts/segments`): the audiences campaigns target.
//! Natural key: `name`. Both kinds share this file's shape; each has its own `Resource`.
//!
//! [doc] §3 Contact lists: the list is unpaginated; `status` is 1 (active) or 0 (inactive) on the wire,
//! `active`/`inactive` in manifests; DELETE removes every membership and cannot be undone, so a delete is
//! blocked unless `--allow-deletes` and its line shows how many contacts it holds. Which contacts are in a
//! list is contact data: not managed. Segments: [assumed] the same shape and rules ("same pattern as lists").
//! Campaigns refer to lists and segments by name, also to ones the same manifests create
//! (`resources::reference`).

use super::{Checks, Ensure, Entry, Lookups, Managed, Origin, Resource};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `active` (1 on the wire) or `inactive` (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ListStatus {
    #[default]
    Active,
    Inactive,
}

impl ListStatus {
    fn wire(self) -> u8 {
        match self {
            ListStatus::Active => 1,
            ListStatus::Inactive => 0,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            ListStatus::Active => "active",
            ListStatus::Inactive => "inactive",
        }
    }
}

/// The entry both kinds declare.
macro_rules! audience_kind {
    ($Spec:ident, $Res:ident, $Kind:ident, $path:literal, $label:literal, $plural:literal, $title:literal, $sandbox:literal) => {
        #[doc = concat!("A ", $label, ".")]
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $Spec {
            /// Pins this entry to one live object (to rename it, or when names repeat).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub id: Option<u64>,
            /// The natural key; campaigns name it in `audience`.
            pub name: String,
            /// `absent` deletes the live object this entry names.
            #[serde(default, skip_serializing_if = "Ensure::is_present")]
            pub ensure: Ensure,
            /// `active` (default) or `inactive`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub status: Option<ListStatus>,
            #[serde(skip)]
            #[schemars(skip)]
            pub origin: Origin,
        }

        impl Entry for $Spec {
            const LABEL: &'static str = $label;
            const PLURAL: &'static str = $plural;
            const TITLE: &'static str = $title;
            const KEY_FIELD: &'static str = "name";

            fn natural_key(&self) -> String {
                self.name.clone()
            }
            super::entry_fields!();

            fn check(&self, c: &mut Checks) {
                c.short_text(&self.origin, "name", &self.name);
            }
        }

        #[doc = concat!("`", $path, "`: unpaginated.")]
        pub struct $Res;

        impl Resource for $Res {
            const KIND: super::Kind = super::Kind::$Kind;
            const PATH: &'static str = $path;
            const FILES: &'static [&'static str] = &[file!(), $sandbox];
            type Live = LiveAudience;
            fn live_id(l: &LiveAudience) -> u64 {
                l.id
            }
            fn live_key(l: &LiveAudience) -> String {
                l.name.clone()
            }
            fn delete_loses(l: &LiveAudience) -> Option<String> {
                super::tag::contacts_lose(l.contacts_count, concat!("their membership of the ", $label))
            }
            fn summary(l: &LiveAudience) -> Value {
                json!({"id": l.id, "name": l.name, "status": l.status})
            }
        }

        impl Managed for $Spec {
            type R = $Res;

            fn desired(&self, _: &Lookups) -> Result<super::Fields, Problem> {
                Ok(vec![
                    ("name", super::canon_short(&self.name)),
                    ("status", self.status.unwrap_or_default().as_str().into()),
                ])
            }

            fn live_fields(l: &LiveAudience) -> super::Fields {
                vec![("name", super::canon_short(&l.name)), ("status", l.status_word().into())]
            }

            /// `status` as the integer the API takes ([doc]; sent on create too, [assumed] accepted).
            fn body(&self, _: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
                let mut body = Map::new();
                body.insert("name".into(), self.name.trim().into());
                body.insert("status".into(), self.status.unwrap_or_default().wire().into());
                Ok(body)
            }

            fn from_live(l: &LiveAudience, _: &Lookups) -> Result<Self, String> {
                Ok($Spec {
                    id: None,
                    name: l.name.clone(),
                    ensure: Ensure::Present,
                    status: (l.status_word() == "inactive").then_some(ListStatus::Inactive),
                    origin: Origin::default(),
                })
            }
        }
    };
}

audience_kind!(
    ContactListSpec,
    ContactLists,
    ContactLists,
    "/contacts/lists",
    "contact list",
    "contact lists",
    "Contact lists",
    "src/sandbox/contact_lists.rs"
);
audience_kind!(
    SegmentSpec,
    Segments,
    Segments,
    "/contacts/segments",
    "segment",
    "segments",
    "Segments",
    "src/sandbox/segments.rs"
);

/// A contact list or segment as the API returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LiveAudience {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    /// 1 or 0 ([doc]); a bool or a word is read too.
    #[serde(default)]
    pub status: Value,
    #[serde(default)]
    pub contacts_count: Option<u64>,
}

impl LiveAudience {
    fn status_word(&self) -> &'static str {
        match &self.status {
            Value::Number(n) if n.as_u64() == Some(0) => "inactive",
            Value::Bool(false) => "inactive",
            Value::String(s) if s == "inactive" || s == "0" => "inactive",
            _ => "active",
        }
    }
}
