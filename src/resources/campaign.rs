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
    const LABEL: &'static str = "campaign";
    const KEY_FIELD: &'static str = "name";

    fn natural_key(&self) -> String {
        self.name.clone()
    }
    fn id(&self) -> Option<u64> {
        self.id
    }
    fn ensure(&self) -> Ensure {
        self.ensure
    }
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }

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
                o.problem(
                    "channel_id#key",
                    "give either `channel` or `channel_id`, not both",
                )
                .hint("keep `channel:` (a name survives re-creating the channel) or `channel_id:`"),
            ),
            (Some(ch), None) if ch.trim().is_empty() => {
                c.push(o.problem("channel", "`channel` is empty"))
            }
            _ => {}
        }
        c.require(o, "message", &self.message, &label);
        let empty = self
            .audience
            .as_ref()
            .is_none_or(|a| a.lists.is_empty() && a.segments.is_empty() && a.contacts.is_empty());
        if empty {
            let field = if o.has("audience") {
                "audience"
            } else {
                "name"
            };
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
}
