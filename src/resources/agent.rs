//! AI agents (`/ai-agents`). Natural key: `name`.
//!
//! Prompts are fields of the agent ([doc] §3 AI agents). `is_default` is realised through `set-default`,
//! and the API refuses to delete the default agent ([assumed]): both are this kind's [`Managed::rules`].
//! Offline: `name` ≤ 255 characters; `response_guidelines` values are strings ([assumed]).

use super::{Checks, Ensure, Entry, Lookups, Managed, Origin, Resource, Rule, Text};
use crate::source::Problem;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// An AI agent. Fields left out take the API's defaults (no instruction or personality prompt,
/// no response guidelines, active, not default).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Pins this entry to one live agent (for duplicate names, or to rename).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The natural key: agents are matched to live ones by name.
    pub name: String,
    /// `absent` deletes the live agent of this name.
    #[serde(default, skip_serializing_if = "Ensure::is_present")]
    pub ensure: Ensure,
    /// At most one agent may be the default; it is assigned to new contacts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// The main prompt: every agent that is not `ensure: absent` needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<Text>,
    /// How the agent works through a conversation (steps, hand-over rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruction_prompt: Option<Text>,
    /// The agent's voice and manner; often a shared `{ prompt: name }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personality_prompt: Option<Text>,
    /// Formatting rules such as `language`, `tone`, `max_length`; string values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_guidelines: Option<IndexMap<String, String>>,
    /// Whether the agent answers (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for AgentSpec {
    const LABEL: &'static str = "agent";
    const PLURAL: &'static str = "agents";
    const TITLE: &'static str = "Agents";
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

    /// At most one agent is the default.
    fn check_together(agents: &[Self], c: &mut Checks) {
        let defaults: Vec<&AgentSpec> =
            agents.iter().filter(|a| a.is_default == Some(true) && a.ensure.is_present()).collect();
        for extra in defaults.iter().skip(1) {
            c.push(
                extra
                    .origin
                    .problem(
                        "is_default",
                        format!(
                            "agent `{}` is a second default agent (first: `{}` at {})",
                            extra.name,
                            defaults[0].name,
                            defaults[0].origin.short()
                        ),
                    )
                    .hint("exactly one agent can be the default; keep `is_default: true` on one"),
            );
        }
    }

    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        [
            ("system_prompt", self.system_prompt.as_mut()),
            ("instruction_prompt", self.instruction_prompt.as_mut()),
            ("personality_prompt", self.personality_prompt.as_mut()),
        ]
        .into_iter()
        .filter_map(|(f, t)| t.map(|t| (f, t)))
        .collect()
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
    pub response_guidelines: BTreeMap<String, String>,
    #[serde(default = "super::lenient::yes", deserialize_with = "super::lenient::flag")]
    pub is_active: bool,
    #[serde(default, deserialize_with = "super::lenient::flag")]
    pub is_default: bool,
    #[serde(default, deserialize_with = "super::lenient::time")]
    pub updated_at: Option<time::OffsetDateTime>,
}

/// `/ai-agents`: listed whole, no pagination ([doc]).
pub struct Agents;

impl Resource for Agents {
    const KIND: super::Kind = super::Kind::Agents;
    const PATH: &'static str = "/ai-agents";
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/agents.rs"];
    type Live = LiveAgent;
    fn live_id(l: &LiveAgent) -> u64 {
        l.id
    }
    fn live_key(l: &LiveAgent) -> String {
        l.name.clone()
    }
    fn likely_meant(l: &LiveAgent) -> Option<&'static str> {
        l.is_default.then_some("the default agent")
    }
    fn summary(l: &LiveAgent) -> Value {
        json!({"id": l.id, "name": l.name, "is_default": l.is_default, "updated_at": l.updated_at.map(|t| t.unix_timestamp_nanos().to_string())})
    }
}

/// Guidelines compared as a map of trimmed values; an empty value is no value (servers trim strings and
/// store `""` as null).
fn guidelines<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> Value {
    let map: BTreeMap<String, String> =
        pairs.filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (k.clone(), super::common::nfc(v.trim()))).collect();
    json!(map)
}

/// A text as written, or null.
fn wire_text(t: &Option<Text>) -> Value {
    t.as_ref().and_then(Text::value).map_or(Value::Null, Value::from)
}

/// A live text as a manifest would write it: absent when blank.
fn live_text(t: Option<&String>) -> Option<Text> {
    t.filter(|s| !s.trim().is_empty()).map(|s| Text::Inline(s.clone()))
}

impl Managed for AgentSpec {
    type R = Agents;

    fn desired(&self, _: &Lookups) -> Result<super::Fields, Problem> {
        let text = |t: &Option<Text>| super::canon_text(t.as_ref().and_then(Text::value));
        Ok(vec![
            ("name", super::canon_short(&self.name)),
            ("system_prompt", text(&self.system_prompt)),
            ("instruction_prompt", text(&self.instruction_prompt)),
            ("personality_prompt", text(&self.personality_prompt)),
            ("response_guidelines", guidelines(self.response_guidelines.iter().flatten())),
            ("is_active", Value::Bool(self.is_active.unwrap_or(true))),
        ])
    }

    fn live_fields(l: &LiveAgent) -> super::Fields {
        vec![
            ("name", super::canon_short(&l.name)),
            ("system_prompt", super::canon_text(Some(&l.system_prompt))),
            ("instruction_prompt", super::canon_text(l.instruction_prompt.as_deref())),
            ("personality_prompt", super::canon_text(l.personality_prompt.as_deref())),
            ("response_guidelines", guidelines(l.response_guidelines.iter())),
            ("is_active", Value::Bool(l.is_active)),
        ]
    }

    /// `is_default` is not sent: the API ignores it in POST/PUT ([assumed]); `set-default` sets it.
    fn body(&self, _: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
        let guidelines: Map<String, Value> =
            self.response_guidelines.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        let Value::Object(body) = json!({
            "name": self.name,
            "system_prompt": wire_text(&self.system_prompt),
            "instruction_prompt": wire_text(&self.instruction_prompt),
            "personality_prompt": wire_text(&self.personality_prompt),
            "response_guidelines": guidelines,
            "is_active": self.is_active.unwrap_or(true),
        }) else {
            unreachable!("an object literal")
        };
        Ok(body)
    }

    fn action_holds(action: &str, live: &LiveAgent) -> Option<bool> {
        (action == "set-default").then_some(live.is_default)
    }

    /// The default agent: `set-default` after the agents' creates and updates; the live default is never
    /// deleted unless another agent becomes the default first (the API refuses it otherwise).
    fn rules(entries: &[&Self], matched: &[Option<&LiveAgent>], live: &[LiveAgent]) -> Vec<Rule> {
        let declared = entries.iter().position(|e| e.ensure.is_present() && e.is_default == Some(true));
        let live_default = live.iter().find(|l| l.is_default);
        let mut rules = Vec::new();
        if let Some(i) = declared {
            if !matched[i].is_some_and(|l| l.is_default) {
                rules.push(Rule::Action {
                    entry: i,
                    action: "set-default",
                    note: live_default.map(|old| format!("replaces {} as the default agent", old.name)),
                });
            }
            rules.push(Rule::DeletesAfter("set-default"));
            return rules;
        }
        for (i, e) in entries.iter().enumerate() {
            if e.is_default == Some(false) && matched[i].is_some_and(|l| l.is_default) {
                rules.push(Rule::Refuse {
                    entry: i,
                    reason: format!(
                        "agent {} is the default agent and the API cannot unset it: put `is_default: true` on the agent that should replace it",
                        e.name
                    ),
                });
            }
        }
        if let Some(d) = live_default {
            rules.push(Rule::RefuseDelete {
                id: d.id,
                reason: format!(
                    "agent {} is the default agent, which the API refuses to delete: declare another agent with `is_default: true` first",
                    d.name
                ),
            });
        }
        rules
    }

    fn from_live(l: &LiveAgent, _: &Lookups) -> Result<Self, String> {
        if l.system_prompt.trim().is_empty() {
            return Err(format!(
                "agent \"{}\" (id {}) has a blank system prompt, which a manifest cannot declare (the API requires one)",
                l.name, l.id
            ));
        }
        Ok(AgentSpec {
            id: None,
            name: l.name.clone(),
            ensure: Ensure::Present,
            is_default: l.is_default.then_some(true),
            system_prompt: Some(Text::Inline(l.system_prompt.clone())),
            instruction_prompt: live_text(l.instruction_prompt.as_ref()),
            personality_prompt: live_text(l.personality_prompt.as_ref()),
            response_guidelines: (!l.response_guidelines.is_empty())
                .then(|| l.response_guidelines.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            is_active: (!l.is_active).then_some(false),
            origin: Origin::default(),
        })
    }
}
