//! Voice replies — `/voice` (a singleton).
//!
//! [doc] `GET /voice` → `{enabled, voice_configured, has_cloned_voice, voice_id, voice_name, language (ar|en),
//! dialect, voice_preloaded_at}`; `PATCH /voice/settings` takes `language` (`ar`|`en`), `dialect` (a code
//! from `GET /voice/dialects`) and `enabled` (bool).
//! [assumed] answers use the usual `data` envelope; `PATCH` answers 200 with the settings; `/voice/dialects`
//! → `data`: `[{code, name, language}]`; an unknown dialect, or one of the other language, is a 422.

use super::clock::Timestamp;
use super::http::{parse_object, ApiError, Check, Presence, Reply};
use super::App;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, patch};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The dialects: (code, name, language).
const DIALECTS: &[(&str, &str, &str)] = &[
    ("ksa", "Saudi", "ar"),
    ("egy", "Egyptian", "ar"),
    ("uae", "Emirati", "ar"),
    ("kwt", "Kuwaiti", "ar"),
    ("lev", "Levantine", "ar"),
    ("msa", "Modern Standard Arabic", "ar"),
    ("us", "American", "en"),
    ("uk", "British", "en"),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Voice {
    pub enabled: bool,
    pub voice_configured: bool,
    pub has_cloned_voice: bool,
    pub voice_id: Option<String>,
    pub voice_name: Option<String>,
    pub language: String,
    pub dialect: String,
    pub voice_preloaded_at: Option<Timestamp>,
}

impl Default for Voice {
    fn default() -> Self {
        Voice {
            enabled: false,
            voice_configured: false,
            has_cloned_voice: false,
            voice_id: None,
            voice_name: None,
            language: "ar".into(),
            dialect: "ksa".into(),
            voice_preloaded_at: None,
        }
    }
}

impl super::store::Singleton for Voice {
    fn routes() -> Router<App> {
        Router::new()
            .route("/api/v1/voice", get(show))
            .route("/api/v1/voice/settings", patch(update))
            .route("/api/v1/voice/dialects", get(dialects))
    }
}

impl Voice {
    fn to_json(&self, app: &App) -> Value {
        json!({
            "enabled": self.enabled, "voice_configured": self.voice_configured,
            "has_cloned_voice": self.has_cloned_voice, "voice_id": self.voice_id, "voice_name": self.voice_name,
            "language": self.language, "dialect": self.dialect,
            "voice_preloaded_at": app.view().opt_ts(self.voice_preloaded_at),
        })
    }
}

async fn show(State(app): State<App>) -> Reply {
    let store = app.store();
    Reply::ok(store.voice.to_json(&app), "Voice settings retrieved successfully.")
}

async fn dialects() -> Reply {
    let data: Vec<Value> = DIALECTS
        .iter()
        .map(|(code, name, language)| json!({"code": code, "name": name, "language": language}))
        .collect();
    Reply::ok(json!(data), "Dialects retrieved successfully.")
}

async fn update(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut c = Check::new(&body);
    let language = c.one_of("language", Presence::Sometimes, &["ar", "en"]);
    let dialect = c.text("dialect", Presence::Sometimes, 20);
    let enabled = c.boolean("enabled");
    let mut store = app.store();
    if let Some(d) = &dialect {
        let lang = language.clone().unwrap_or_else(|| store.voice.language.clone());
        if !DIALECTS.iter().any(|(code, _, l)| code == d && *l == lang) {
            c.errors.add("dialect", "The selected dialect is invalid.".to_string());
        }
    }
    c.done()?;
    let v = &mut store.voice;
    if let Some(l) = language {
        v.language = l;
    }
    if let Some(d) = dialect {
        v.dialect = d;
    }
    if let Some(e) = enabled {
        v.enabled = e;
    }
    Ok(Reply::ok(store.voice.to_json(&app), "Voice settings updated successfully."))
}
