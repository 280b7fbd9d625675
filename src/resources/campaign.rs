//! Campaigns (`/campaigns`). Natural key: `name`.
//!
//! Fields are editable only while `draft`; `state` drives the lifecycle (start, pause, resume, cancel).
//! `channel` (a channel type or username) and audience list/segment names are resolved to ids at plan time.

use super::{Checks, Ensure, Entry, Origin, Text};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CampaignState {
    Draft,
    Running,
    Paused,
    Cancelled,
}

/// Who a campaign messages: list and segment names, and contact ids. At least one must be non-empty.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Contact list names (resolved to ids).
    #[serde(default)]
    pub lists: Vec<String>,
    /// Segment names (resolved to ids).
    #[serde(default)]
    pub segments: Vec<String>,
    /// Contact ids.
    #[serde(default)]
    pub contacts: Vec<u64>,
}

/// An outreach campaign.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Pins this entry to one live campaign.
    pub id: Option<u64>,
    /// The natural key.
    pub name: String,
    #[serde(default)]
    pub ensure: Ensure,
    /// The channel: `whatsapp`, `telegram`, `instagram`, or a channel's username. Or use `channel_id`.
    pub channel: Option<String>,
    pub channel_id: Option<u64>,
    pub audience: Option<Audience>,
    pub message: Option<Text>,
    /// `draft` (default), `running`, `paused` or `cancelled`. A live `completed` campaign satisfies `running`.
    pub state: Option<CampaignState>,
    /// Warm-up sending for a new number.
    pub is_new_number: Option<bool>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for CampaignSpec {
    const R_KIND: super::Kind = super::Kind::Campaigns;
    const LABEL: &'static str = "campaign";
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
        let label = format!("campaign `{}`", self.name);
        match (&self.channel, self.channel_id) {
            (None, None) => c.push(
                o.problem("name", format!("{label} needs a channel"))
                    .hint("add `channel: whatsapp` (a type or username) or `channel_id: N`"),
            ),
            (Some(_), Some(_)) => c.push(
                o.problem("channel_id#key", "give either `channel` or `channel_id`, not both")
                    .hint("keep `channel:` (a name survives re-creating the channel) or `channel_id:`"),
            ),
            (Some(ch), None) if ch.trim().is_empty() => c.push(o.problem("channel", "`channel` is empty")),
            _ => {}
        }
        c.require(o, "message", &self.message, &label);
        let empty =
            self.audience.as_ref().is_none_or(|a| a.lists.is_empty() && a.segments.is_empty() && a.contacts.is_empty());
        if empty {
            let field = if o.has("audience") { "audience" } else { "name" };
            c.push(
                o.problem(field, format!("{label} has no audience"))
                    .hint("add `audience:` with `lists:`, `segments:` or `contacts:`"),
            );
        }
    }
}

/// A campaign as the API returns it. The list lacks `message`, the audience and `channel_id`;
/// the single GET adds them.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct LiveCampaign {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub channel_id: Option<u64>,
    #[serde(default)]
    pub client_setting: Option<ClientSetting>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub contact_ids: Option<Vec<u64>>,
    #[serde(default)]
    pub list_ids: Option<Vec<u64>>,
    #[serde(default)]
    pub segment_ids: Option<Vec<u64>>,
    #[serde(default, deserialize_with = "super::lenient::flag_default_false")]
    pub is_new_number: bool,
    #[serde(default)]
    pub total_contacts: Option<u64>,
    #[serde(default, deserialize_with = "super::lenient::time")]
    pub started_at: Option<time::OffsetDateTime>,
}

/// The channel as the campaign list shows it.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct ClientSetting {
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// The lifecycle actions, `POST /campaigns/{id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignAction {
    Start,
    Pause,
    Resume,
    Cancel,
}

impl CampaignAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignAction::Start => "start",
            CampaignAction::Pause => "pause",
            CampaignAction::Resume => "resume",
            CampaignAction::Cancel => "cancel",
        }
    }
}

/// `/campaigns`: paginated.
pub struct Campaigns;

impl super::Resource for Campaigns {
    const KIND: super::Kind = super::Kind::Campaigns;
    const PATH: &'static str = "/campaigns";
    type Live = LiveCampaign;
    fn live_id(l: &LiveCampaign) -> u64 {
        l.id
    }
    fn live_key(l: &LiveCampaign) -> String {
        l.name.clone()
    }
    fn summary(l: &LiveCampaign) -> serde_json::Value {
        serde_json::json!({"id": l.id, "name": l.name, "status": l.status})
    }
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Cancelled => "cancelled",
        }
    }
}

/// Resolves a list or segment name against the account; the error points at the name.
fn resolve_names(
    names: &[String],
    known: &[super::lookup::ContactList],
    what: &str,
    field: &str,
    origin: &Origin,
) -> Result<Vec<u64>, crate::manifest::problem::Problem> {
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let found: Vec<&super::lookup::ContactList> = known.iter().filter(|l| l.name.trim() == name.trim()).collect();
        match found.as_slice() {
            [one] => ids.push(one.id),
            [] => {
                let names: Vec<&str> = known.iter().map(|l| l.name.as_str()).collect();
                let p = origin.problem(&format!("{field}.{i}"), format!("no {what} named `{name}` in the account"));
                return Err(match crate::manifest::problem::closest(name, &names) {
                    Some(b) => p.hint(format!("did you mean `{b}`?")),
                    None => p.hint(format!("the account's {what}s: {}", names.join(", "))),
                });
            }
            many => {
                let ids: Vec<String> = many.iter().map(|l| l.id.to_string()).collect();
                return Err(origin.problem(
                    &format!("{field}.{i}"),
                    format!("{} {what}s are named `{name}` (ids {})", many.len(), ids.join(", ")),
                ));
            }
        }
    }
    Ok(ids)
}

impl CampaignSpec {
    fn channel_id(&self, lookups: &super::Lookups) -> Result<u64, crate::manifest::problem::Problem> {
        let o = &self.origin;
        if let Some(id) = self.channel_id {
            return if lookups.channels.iter().any(|c| c.id == id) {
                Ok(id)
            } else {
                Err(o.problem("channel_id", format!("no channel with id {id} in the account")))
            };
        }
        let want = self.channel.as_deref().unwrap_or("").trim();
        if let Some(c) = want.parse::<u64>().ok().and_then(|id| lookups.channels.iter().find(|c| c.id == id)) {
            return Ok(c.id); // `channel: 5` means the channel with id 5
        }
        let by_name: Vec<_> = lookups.channels.iter().filter(|c| c.username.eq_ignore_ascii_case(want)).collect();
        let by_type: Vec<_> = lookups.channels.iter().filter(|c| c.kind.eq_ignore_ascii_case(want)).collect();
        match (by_name.as_slice(), by_type.as_slice()) {
            ([one], _) | ([], [one]) => Ok(one.id),
            ([], []) => {
                let known: Vec<String> =
                    lookups.channels.iter().map(|c| format!("{} ({})", c.username, c.kind)).collect();
                Err(o
                    .problem("channel", format!("no channel `{want}` in the account"))
                    .hint(format!("channels: {}", if known.is_empty() { "none".into() } else { known.join(", ") })))
            }
            (_, many) => {
                let names: Vec<String> = many.iter().map(|c| c.username.clone()).collect();
                Err(o
                    .problem("channel", format!("{} channels are `{want}`", many.len()))
                    .hint(format!("name one by its username ({}) or use channel_id", names.join(", "))))
            }
        }
    }
}

impl super::Managed for CampaignSpec {
    fn actions_digest(&self) -> Vec<String> {
        vec![self.state_or_draft().as_str().to_string()]
    }

    type R = Campaigns;
    const NEEDS_DETAIL: bool = true;

    fn desired(&self, lookups: &super::Lookups) -> Result<super::Fields, crate::manifest::problem::Problem> {
        let o = &self.origin;
        let audience = self.audience.clone().unwrap_or_default();
        Ok(vec![
            ("name", super::canon_short(&self.name)),
            ("channel_id", self.channel_id(lookups)?.into()),
            ("message", super::canon_text(self.message.as_ref().and_then(Text::value))),
            (
                "list_ids",
                super::canon_ids(&resolve_names(&audience.lists, &lookups.lists, "contact list", "audience.lists", o)?),
            ),
            (
                "segment_ids",
                super::canon_ids(&resolve_names(
                    &audience.segments,
                    &lookups.segments,
                    "segment",
                    "audience.segments",
                    o,
                )?),
            ),
            ("contact_ids", super::canon_ids(&audience.contacts)),
            ("is_new_number", self.is_new_number.unwrap_or(false).into()),
        ])
    }

    fn live_fields(l: &LiveCampaign) -> super::Fields {
        let channel = l.channel_id.or_else(|| l.client_setting.as_ref().and_then(|c| c.id));
        vec![
            ("name", super::canon_short(&l.name)),
            ("channel_id", channel.map_or(serde_json::Value::Null, Into::into)),
            ("message", super::canon_text(l.message.as_deref())),
            ("list_ids", super::canon_ids(l.list_ids.as_deref().unwrap_or_default())),
            ("segment_ids", super::canon_ids(l.segment_ids.as_deref().unwrap_or_default())),
            ("contact_ids", super::canon_ids(l.contact_ids.as_deref().unwrap_or_default())),
            ("is_new_number", l.is_new_number.into()),
        ]
    }

    fn refuse_update(&self, live: &LiveCampaign, changed: &[&str]) -> Option<String> {
        (live.status != "draft").then(|| {
            let what = if changed.len() == 1 {
                format!("{} cannot change", changed[0])
            } else {
                format!("{} cannot change", changed.join(", "))
            };
            format!("campaign {} is {}: {what}; cancel it and create a new campaign", self.name, live.status)
        })
    }

    fn skip_create(&self) -> bool {
        self.state_or_draft() == CampaignState::Cancelled
    }

    fn actions(&self, live: Option<&LiveCampaign>, _: &super::ActionContext) -> Vec<super::Step> {
        self.lifecycle(live.map_or("draft", |l| l.status.as_str()))
    }

    fn refuse_delete(live: &LiveCampaign) -> Option<String> {
        matches!(live.status.as_str(), "running" | "paused").then(|| {
            format!(
                "campaign {} is {}: it cannot be deleted while sending; set `state: cancelled` first",
                live.name, live.status
            )
        })
    }
}

impl CampaignSpec {
    /// The lifecycle moves from the live status to the declared state. `completed` satisfies `running`.
    fn lifecycle(&self, from: &str) -> Vec<super::Step> {
        use super::Step::{Do, Refuse};
        let want = self.state.unwrap_or(CampaignState::Draft);
        let name = &self.name;
        match (from, want) {
            ("draft", CampaignState::Draft)
            | ("running", CampaignState::Running)
            | ("paused", CampaignState::Paused)
            | ("cancelled", CampaignState::Cancelled)
            | ("completed", CampaignState::Running) => vec![],
            ("draft", CampaignState::Running) => vec![Do("start")],
            ("draft", CampaignState::Paused) => vec![Do("start"), Do("pause")],
            ("draft" | "running" | "paused", CampaignState::Cancelled) => vec![Do("cancel")],
            ("running", CampaignState::Paused) => vec![Do("pause")],
            ("paused", CampaignState::Running) => vec![Do("resume")],
            (s, CampaignState::Draft) => vec![Refuse(format!(
                "campaign {name} is {s}: a started campaign cannot return to draft; create a new campaign instead"
            ))],
            ("completed", w) => vec![Refuse(format!("campaign {name} has completed: it cannot be {}", w.as_str()))],
            ("cancelled", _) => vec![Refuse(format!(
                "campaign {name} is cancelled, which is final: create a new campaign to send again"
            ))],
            (other, w) => vec![Refuse(format!(
                "campaign {name} is `{other}`: skyform does not know how to make it {}",
                w.as_str()
            ))],
        }
    }
}

impl CampaignSpec {
    pub(crate) fn state_or_draft(&self) -> CampaignState {
        self.state.unwrap_or(CampaignState::Draft)
    }
}
