//! AI agents — `/ai-agents`.
//!
//! [doc] list unpaginated, most recently updated first; exactly one default, changed by `set-default`.
//! [assumed] create needs `name` (≤ 255) and `system_prompt`; `is_active` defaults to true;
//! `response_guidelines` defaults to `{}` and holds strings only; `is_default` is ignored in POST/PUT;
//! deleting the default agent is a 422; names are not unique; creating an agent never makes it default.

use super::clock::Timestamp;
use super::http::{parse_id, parse_object, ApiError, Check, Field, Presence, Reply};
use super::store::Record;
use super::{App, View};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const NOT_FOUND: &str = "AI agent not found.";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    pub system_prompt: String,
    #[serde(default)]
    pub instruction_prompt: Option<String>,
    #[serde(default)]
    pub personality_prompt: Option<String>,
    #[serde(default)]
    pub response_guidelines: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Timestamp,
}

fn yes() -> bool {
    true
}

impl Record for Agent {
    fn routes() -> axum::Router<super::App> {
        routes()
    }
    const KIND: &'static str = "agents";
    fn id(&self) -> u64 {
        self.id
    }
    fn set_id(&mut self, id: u64) {
        self.id = id;
    }
    fn fill_defaults(&mut self, now: Timestamp) {
        if self.created_at == Timestamp::default() {
            self.created_at = now;
        }
        if self.updated_at == Timestamp::default() {
            self.updated_at = self.created_at;
        }
    }
}

impl Agent {
    fn to_json(&self, v: View) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "system_prompt": self.system_prompt,
            "instruction_prompt": self.instruction_prompt,
            "personality_prompt": self.personality_prompt,
            "response_guidelines": self.response_guidelines,
            "is_active": self.is_active,
            "is_default": self.is_default,
            "created_at": v.ts(self.created_at),
            "updated_at": v.ts(self.updated_at),
        })
    }
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/ai-agents", get(list).post(create))
        .route("/api/v1/ai-agents/{id}", get(show).put(update).delete(destroy))
        .route("/api/v1/ai-agents/{id}/set-default", post(set_default))
}

async fn list(State(app): State<App>) -> Reply {
    let store = app.store();
    let mut agents: Vec<&Agent> = store.agents.iter().collect();
    agents.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    let data: Vec<Value> = agents.iter().map(|a| a.to_json(app.view())).collect();
    Reply::ok(json!(data), "AI agents retrieved successfully.")
}

fn find(agents: &mut [Agent], raw_id: &str) -> Result<usize, ApiError> {
    let id = parse_id(raw_id, NOT_FOUND)?;
    agents.iter().position(|a| a.id == id).ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&mut store.agents, &id)?;
    Ok(Reply::ok(store.agents[i].to_json(app.view()), "AI agent retrieved successfully."))
}

/// The fields a request may set; `Field::Absent` leaves the stored value alone.
struct Input {
    name: Field<String>,
    system_prompt: Field<String>,
    instruction_prompt: Field<String>,
    personality_prompt: Field<String>,
    response_guidelines: Option<BTreeMap<String, String>>,
    is_active: Option<bool>,
}

fn read_input(body: &Map<String, Value>, creating: bool) -> Result<Input, ApiError> {
    let mut c = Check::new(body);
    let required = if creating { Presence::Required } else { Presence::Sometimes };
    let input = Input {
        name: c.string("name", required, 255),
        system_prompt: c.string("system_prompt", required, usize::MAX),
        instruction_prompt: c.string("instruction_prompt", Presence::Nullable, usize::MAX),
        personality_prompt: c.string("personality_prompt", Presence::Nullable, usize::MAX),
        response_guidelines: guidelines(&mut c),
        is_active: c.boolean("is_active"),
    };
    c.done()?;
    Ok(input)
}

/// `response_guidelines`: an object of string values; null means `{}`.
fn guidelines(c: &mut Check) -> Option<BTreeMap<String, String>> {
    match c.raw("response_guidelines") {
        None => None,
        Some(Value::Null) => Some(BTreeMap::new()),
        Some(Value::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    // [assumed] `response_guidelines.*` is nullable: a null value is no value.
                    Value::Null => {}
                    _ => c.errors.add(
                        &format!("response_guidelines.{k}"),
                        format!("The response_guidelines.{k} field must be a string."),
                    ),
                }
            }
            Some(out)
        }
        Some(_) => {
            c.errors.add("response_guidelines", "The response guidelines field must be an object.");
            None
        }
    }
}

fn apply(agent: &mut Agent, input: Input) {
    if let Field::Value(v) = input.name {
        agent.name = v;
    }
    if let Field::Value(v) = input.system_prompt {
        agent.system_prompt = v;
    }
    match input.instruction_prompt {
        Field::Value(v) => agent.instruction_prompt = Some(v),
        Field::Null => agent.instruction_prompt = None,
        Field::Absent => {}
    }
    match input.personality_prompt {
        Field::Value(v) => agent.personality_prompt = Some(v),
        Field::Null => agent.personality_prompt = None,
        Field::Absent => {}
    }
    if let Some(g) = input.response_guidelines {
        agent.response_guidelines = g;
    }
    if let Some(a) = input.is_active {
        agent.is_active = a;
    }
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let input = read_input(&parse_object(&body)?, true)?;
    let mut store = app.store();
    let now = Timestamp::now();
    let mut agent = Agent {
        id: store.next_id(Agent::KIND),
        name: String::new(),
        system_prompt: String::new(),
        instruction_prompt: None,
        personality_prompt: None,
        response_guidelines: BTreeMap::new(),
        is_active: true,
        is_default: false,
        created_at: now,
        updated_at: now,
    };
    apply(&mut agent, input);
    let data = agent.to_json(app.view());
    store.agents.push(agent);
    Ok(Reply::created(data, "AI agent created successfully."))
}

async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut store = app.store();
    let i = find(&mut store.agents, &id)?;
    let input = read_input(&body, false)?;
    let agent = &mut store.agents[i];
    apply(agent, input);
    agent.updated_at = Timestamp::now();
    Ok(Reply::ok(agent.to_json(app.view()), "AI agent updated successfully."))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&mut store.agents, &id)?;
    if store.agents[i].is_default {
        return Err(ApiError::invalid("agent", "The default agent cannot be deleted."));
    }
    store.agents.remove(i);
    Ok(Reply::deleted())
}

async fn set_default(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&mut store.agents, &id)?;
    let now = Timestamp::now();
    for (j, agent) in store.agents.iter_mut().enumerate() {
        let should = j == i;
        if agent.is_default != should {
            agent.is_default = should;
            agent.updated_at = now;
        }
    }
    Ok(Reply::ok(store.agents[i].to_json(app.view()), "Default AI agent updated successfully."))
}
