//! Voice replies (`/voice`): a singleton, written with `PATCH /voice/settings`.
//!
//! [doc] §3 Voice settings: `GET /voice` → `{enabled, voice_configured, has_cloned_voice, voice_id,
//! voice_name, language (ar|en), dialect, voice_preloaded_at}`; `PATCH /voice/settings` takes `language`
//! (`ar` or `en`), `dialect` (a code from `GET /voice/dialects`, e.g. `ksa`, `egy`) and `enabled`. Only the
//! fields the manifest names are compared and sent. Cloning a voice and synthesis are actions: not managed.

use super::{Checks, Entry, Lookups, Managed, Origin, Resource, Update};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VoiceLanguage {
    Ar,
    En,
}

impl VoiceLanguage {
    fn as_str(self) -> &'static str {
        match self {
            VoiceLanguage::Ar => "ar",
            VoiceLanguage::En => "en",
        }
    }
}

/// Voice replies: only what is written here is managed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VoiceSpec {
    /// Whether the agents may answer with voice notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `ar` or `en`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<VoiceLanguage>,
    /// A dialect code from `GET /voice/dialects`, e.g. `ksa`, `egy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for VoiceSpec {
    const LABEL: &'static str = "voice settings";
    const PLURAL: &'static str = "voice settings";
    const TITLE: &'static str = "Voice";
    const KEY_FIELD: &'static str = "";

    super::singleton_entry_fields!("voice");

    fn check(&self, c: &mut Checks) {
        if let Some(d) = &self.dialect {
            if d.is_empty() || !d.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-') {
                c.push(
                    self.origin
                        .problem("dialect", format!("`{d}` is not a dialect code"))
                        .hint("codes are lowercase, e.g. ksa or egy (GET /voice/dialects lists them)"),
                );
            }
        }
    }
}

/// The settings as `GET /voice` returns them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LiveVoice {
    #[serde(default, deserialize_with = "super::lenient::flag_default_false")]
    pub enabled: bool,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub dialect: Option<String>,
}

/// `/voice`: one object; updates are `PATCH /voice/settings`.
pub struct Voice;

impl Resource for Voice {
    const KIND: super::Kind = super::Kind::Voice;
    const PATH: &'static str = "/voice";
    const SINGLETON: bool = true;
    const UPDATE: Update = Update::Patch("/voice/settings");
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/voice.rs"];
    type Live = LiveVoice;
    fn live_id(_: &LiveVoice) -> u64 {
        0
    }
    fn live_key(_: &LiveVoice) -> String {
        "voice".into()
    }
    fn summary(l: &LiveVoice) -> Value {
        json!({"enabled": l.enabled, "language": l.language, "dialect": l.dialect})
    }
}

impl Managed for VoiceSpec {
    type R = Voice;

    fn lookups(entries: &[&Self]) -> super::LookupNeeds {
        super::LookupNeeds { dialects: entries.iter().any(|e| e.dialect.is_some()), ..Default::default() }
    }

    fn desired(&self, lookups: &Lookups) -> Result<super::Fields, Problem> {
        // The account's own list of dialects settles a code offline checks only by shape.
        if let Some(d) = &self.dialect {
            if !lookups.dialects.is_empty() && !lookups.dialects.iter().any(|x| x == d) {
                let names: Vec<&str> = lookups.dialects.iter().map(String::as_str).collect();
                let p = self.origin.problem("dialect", format!("`{d}` is not one of the account's voice dialects"));
                return Err(match crate::source::closest(d, &names) {
                    Some(b) => p.hint(format!("did you mean `{b}`? (GET /voice/dialects lists them)")),
                    None => p.hint(format!("the account's dialects: {}", names.join(", "))),
                });
            }
        }
        let mut f: super::Fields = Vec::new();
        if let Some(e) = self.enabled {
            f.push(("enabled", e.into()));
        }
        if let Some(l) = self.language {
            f.push(("language", l.as_str().into()));
        }
        if let Some(d) = &self.dialect {
            f.push(("dialect", d.as_str().into()));
        }
        Ok(f)
    }

    fn live_fields(l: &LiveVoice) -> super::Fields {
        vec![
            ("enabled", l.enabled.into()),
            ("language", l.language.as_deref().map_or(Value::Null, Into::into)),
            ("dialect", l.dialect.as_deref().map_or(Value::Null, Into::into)),
        ]
    }

    fn body(&self, _: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
        let Value::Object(body) = json!(Self::desired(self, &Lookups::default())?
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Map<String, Value>>())
        else {
            unreachable!("a map")
        };
        Ok(body)
    }

    fn from_live(l: &LiveVoice, _: &Lookups) -> Result<Self, String> {
        let language = match l.language.as_deref() {
            Some("ar") => Some(VoiceLanguage::Ar),
            Some("en") => Some(VoiceLanguage::En),
            _ => None,
        };
        Ok(VoiceSpec {
            enabled: Some(l.enabled),
            language,
            dialect: l.dialect.clone().filter(|d| !d.is_empty()),
            origin: Origin::default(),
        })
    }
}
