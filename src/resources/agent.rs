//! AI agents (`/ai-agents`). Natural key: `name`.
//!
//! Prompts are fields of the agent; `is_default` is realised through `set-default`.
//! API rules that matter offline: `name` ≤ 255 characters; `response_guidelines` values are strings.

use super::{Checks, Ensure, Entry, Origin, Text};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// An AI agent. Fields left out take the API's defaults (no instruction or personality prompt,
/// no response guidelines, active, not default).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Pins this entry to one live agent (for duplicate names, or to rename).
    pub id: Option<u64>,
    /// The natural key: agents are matched to live ones by name.
    pub name: String,
    /// `absent` deletes the live agent of this name.
    #[serde(default)]
    pub ensure: Ensure,
    /// The main prompt (required).
    pub system_prompt: Option<Text>,
    pub instruction_prompt: Option<Text>,
    pub personality_prompt: Option<Text>,
    /// Formatting rules such as `language`, `tone`, `max_length`; string values.
    pub response_guidelines: Option<IndexMap<String, String>>,
    pub is_active: Option<bool>,
    /// At most one agent may be the default; it is assigned to new contacts.
    pub is_default: Option<bool>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for AgentSpec {
    const R_KIND: super::Kind = super::Kind::Agents;
    const LABEL: &'static str = "agent";
    const KEY_FIELD: &'static str = "name";

    fn natural_key(&self) -> String {
        self.name.clone()
    }
    super::entry_fields!();

    fn check(&self, c: &mut Checks) {
        let o = &self.origin;
        c.short_text(o, "name", &self.name);
        if self.ensure == Ensure::Absent {
            return;
        }
        c.require(o, "system_prompt", &self.system_prompt, &format!("agent `{}`", self.name));
        if let Some(Text::Inline(s)) = &self.system_prompt {
            if s.trim().is_empty() {
                c.push(o.problem("system_prompt", "`system_prompt` is empty; the API requires a prompt"));
            }
        }
    }
}

/// An agent as the API returns it.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct LiveAgent {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub instruction_prompt: Option<String>,
    #[serde(default)]
    pub personality_prompt: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::string_map")]
    pub response_guidelines: std::collections::BTreeMap<String, String>,
    #[serde(default = "super::lenient::yes", deserialize_with = "super::lenient::flag")]
    pub is_active: bool,
    #[serde(default, deserialize_with = "super::lenient::flag")]
    pub is_default: bool,
    #[serde(default, deserialize_with = "super::lenient::time")]
    pub updated_at: Option<time::OffsetDateTime>,
}

/// `/ai-agents`: listed whole, no pagination.
pub struct Agents;

impl super::Resource for Agents {
    const KIND: super::Kind = super::Kind::Agents;
    const PATH: &'static str = "/ai-agents";
    type Live = LiveAgent;
    fn live_id(l: &LiveAgent) -> u64 {
        l.id
    }
    fn live_key(l: &LiveAgent) -> String {
        l.name.clone()
    }
    fn summary(l: &LiveAgent) -> serde_json::Value {
        serde_json::json!({"id": l.id, "name": l.name, "is_default": l.is_default, "updated_at": l.updated_at.map(|t| t.unix_timestamp_nanos().to_string())})
    }
}

fn guidelines<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> serde_json::Value {
    let map: std::collections::BTreeMap<&str, &str> = pairs.map(|(k, v)| (k.as_str(), v.as_str())).collect();
    serde_json::json!(map)
}

impl super::Managed for AgentSpec {
    fn actions_digest(&self) -> Vec<String> {
        vec![format!("{:?}", self.is_default)]
    }

    type R = Agents;

    fn desired(&self, _: &super::Lookups) -> Result<super::Fields, crate::manifest::problem::Problem> {
        let text = |t: &Option<Text>| super::canon_text(t.as_ref().and_then(Text::value));
        Ok(vec![
            ("name", super::canon_short(&self.name)),
            ("system_prompt", text(&self.system_prompt)),
            ("instruction_prompt", text(&self.instruction_prompt)),
            ("personality_prompt", text(&self.personality_prompt)),
            ("response_guidelines", guidelines(self.response_guidelines.iter().flatten())),
            ("is_active", serde_json::Value::Bool(self.is_active.unwrap_or(true))),
        ])
    }

    fn live_fields(l: &LiveAgent) -> super::Fields {
        vec![
            ("name", super::canon_short(&l.name)),
            ("system_prompt", super::canon_text(Some(&l.system_prompt))),
            ("instruction_prompt", super::canon_text(l.instruction_prompt.as_deref())),
            ("personality_prompt", super::canon_text(l.personality_prompt.as_deref())),
            ("response_guidelines", guidelines(l.response_guidelines.iter())),
            ("is_active", serde_json::Value::Bool(l.is_active)),
        ]
    }
}
