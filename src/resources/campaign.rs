//! Campaigns (`/campaigns`). Natural key: `name`.
//!
//! Fields are editable only while `draft`; `state` drives the lifecycle (start, pause, resume, cancel).
//! `channel` (a channel type or username) and audience list/segment names are resolved to ids at plan time.

use super::lookup::{Channel, ContactList};
use super::{Checks, Ensure, Entry, LookupNeeds, Lookups, Managed, Origin, Resource, Step, Text};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CampaignState {
    Draft,
    Running,
    Paused,
    Cancelled,
}

/// Who a campaign messages: list and segment names, and contact ids. At least one must be non-empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Contact list names (resolved to ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<String>,
    /// Segment names (resolved to ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// Contact ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<u64>,
}

/// An outreach campaign.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Pins this entry to one live campaign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The natural key.
    pub name: String,
    /// `absent` deletes the live object this entry names.
    #[serde(default, skip_serializing_if = "Ensure::is_present")]
    pub ensure: Ensure,
    /// The channel: `whatsapp`, `telegram`, `instagram`, or a channel's username. Or use `channel_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The channel by its id, instead of `channel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<u64>,
    /// Who is messaged: lists and segments by name, contacts by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    /// The message sent; it cannot change once the campaign has started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Text>,
    /// `draft` (default), `running`, `paused` or `cancelled`. A live `completed` campaign satisfies `running`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<CampaignState>,
    /// Warm-up sending for a new number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_new_number: Option<bool>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for CampaignSpec {
    const LABEL: &'static str = "campaign";
    const PLURAL: &'static str = "campaigns";
    const TITLE: &'static str = "Campaigns";
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

    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        self.message.as_mut().map(|t| ("message", t)).into_iter().collect()
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

/// `/campaigns`: paginated.
pub struct Campaigns;

impl Resource for Campaigns {
    const KIND: super::Kind = super::Kind::Campaigns;
    const PATH: &'static str = "/campaigns";
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/campaigns.rs"];
    const PAGE_SIZE: Option<u64> = Some(25);
    const DETAIL_FIELD: Option<&'static str> = Some("message");
    type Live = LiveCampaign;
    fn live_id(l: &LiveCampaign) -> u64 {
        l.id
    }
    /// A campaign's message and audience change only while it is a draft: "PUT is allowed only in draft"
    /// [doc], and no transition leads back to it. So once it left draft its details are final.
    fn validator(l: &LiveCampaign) -> Option<String> {
        (!l.status.is_empty() && l.status != "draft").then(|| "left draft".to_string())
    }
    fn live_key(l: &LiveCampaign) -> String {
        l.name.clone()
    }
    fn summary(l: &LiveCampaign) -> Value {
        json!({"id": l.id, "name": l.name, "status": l.status})
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

/// Resolves a list or segment name against the account: its id, or when the account lacks it but the
/// manifests declare it, a [`super::reference`] that the plan ties to that object's create. The error
/// points at the name.
fn resolve_names(
    names: &[String],
    known: &[ContactList],
    (kind, declared): (super::Kind, &Lookups),
    field: &str,
    origin: &Origin,
) -> Result<Vec<Value>, Problem> {
    let what = kind.singular();
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let found: Vec<&ContactList> = known.iter().filter(|l| l.name.trim() == name.trim()).collect();
        match found.as_slice() {
            [_] if declared.deletes(kind, name).is_some() => {
                let why = declared.deletes(kind, name).unwrap_or_default();
                return Err(origin
                    .problem(&format!("{field}.{i}"), format!("the {what} `{name}` is deleted by this plan: {why}"))
                    .hint(format!("keep the {what}, or aim the campaign at another one")));
            }
            [one] => ids.push(Value::from(one.id)),
            [] if declared.declares(kind, name) => ids.push(super::reference(kind, name.trim())),
            [] => {
                let names: Vec<&str> = known.iter().map(|l| l.name.as_str()).collect();
                let p = origin.problem(
                    &format!("{field}.{i}"),
                    format!("no {what} named `{name}` in the account or the manifests"),
                );
                return Err(match crate::source::closest(name, &names) {
                    Some(b) => p.hint(format!("did you mean `{b}`?")),
                    None => p.hint(format!("the account's {}: {}", kind.plural(), names.join(", "))),
                });
            }
            many => {
                let ids: Vec<String> = many.iter().map(|l| l.id.to_string()).collect();
                return Err(origin.problem(
                    &format!("{field}.{i}"),
                    format!("{} {} are named `{name}` (ids {})", many.len(), kind.plural(), ids.join(", ")),
                ));
            }
        }
    }
    Ok(ids)
}

impl CampaignSpec {
    fn channel_id(&self, lookups: &Lookups) -> Result<u64, Problem> {
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

impl CampaignSpec {
    /// List, segment and contact ids (lists and segments this plan creates as references).
    fn audience_ids(&self, lookups: &Lookups) -> Result<[Vec<Value>; 3], Problem> {
        let o = &self.origin;
        let audience = self.audience.clone().unwrap_or_default();
        let lists =
            resolve_names(&audience.lists, &lookups.lists, (super::Kind::ContactLists, lookups), "audience.lists", o)?;
        let segments = resolve_names(
            &audience.segments,
            &lookups.segments,
            (super::Kind::Segments, lookups),
            "audience.segments",
            o,
        )?;
        Ok([lists, segments, audience.contacts.iter().map(|c| Value::from(*c)).collect()])
    }
}

/// A name that resolves back to exactly this id, if there is one.
fn unique_name(id: u64, known: &[ContactList]) -> Option<String> {
    let l = known.iter().find(|l| l.id == id)?;
    (known.iter().filter(|o| o.name.trim() == l.name.trim()).count() == 1).then(|| l.name.clone())
}

/// How a manifest names this channel so that it resolves back to it: its type when it is the only one of
/// its type, else its username when that is unique and not a type's name, else its id.
fn channel_ref(id: u64, channels: &[Channel]) -> Option<(Option<String>, Option<u64>)> {
    let c = channels.iter().find(|c| c.id == id)?;
    let by_type = channels.iter().filter(|o| o.kind.eq_ignore_ascii_case(&c.kind)).count() == 1;
    let by_name = channels.iter().filter(|o| o.username.eq_ignore_ascii_case(&c.username)).count() == 1;
    let name_is_type = channels.iter().any(|o| o.kind.eq_ignore_ascii_case(&c.username));
    Some(if by_type {
        (Some(c.kind.clone()), None)
    } else if by_name && !name_is_type {
        (Some(c.username.clone()), None)
    } else {
        (None, Some(id))
    })
}

impl Managed for CampaignSpec {
    type R = Campaigns;
    const NEEDS_DETAIL: bool = true;

    fn desired(&self, lookups: &Lookups) -> Result<super::Fields, Problem> {
        let [lists, segments, contacts] = self.audience_ids(lookups)?;
        Ok(vec![
            ("name", super::canon_short(&self.name)),
            ("channel_id", self.channel_id(lookups)?.into()),
            ("message", super::canon_text(self.message.as_ref().and_then(Text::value))),
            ("list_ids", super::canon_refs(&lists)),
            ("segment_ids", super::canon_refs(&segments)),
            ("contact_ids", super::canon_refs(&contacts)),
            ("is_new_number", self.is_new_number.unwrap_or(false).into()),
        ])
    }

    fn live_fields(l: &LiveCampaign) -> super::Fields {
        let channel = l.channel_id.or_else(|| l.client_setting.as_ref().and_then(|c| c.id));
        vec![
            ("name", super::canon_short(&l.name)),
            ("channel_id", channel.map_or(Value::Null, Into::into)),
            ("message", super::canon_text(l.message.as_deref())),
            ("list_ids", super::canon_ids(l.list_ids.as_deref().unwrap_or_default())),
            ("segment_ids", super::canon_ids(l.segment_ids.as_deref().unwrap_or_default())),
            ("contact_ids", super::canon_ids(l.contact_ids.as_deref().unwrap_or_default())),
            ("is_new_number", l.is_new_number.into()),
        ]
    }

    fn body(&self, lookups: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
        let [lists, segments, contacts] = self.audience_ids(lookups)?;
        let Value::Object(body) = json!({
            "name": self.name,
            "channel_id": self.channel_id(lookups)?,
            "message": self.message.as_ref().and_then(Text::value),
            "list_ids": lists,
            "segment_ids": segments,
            "contact_ids": contacts,
            "is_new_number": self.is_new_number.unwrap_or(false),
        }) else {
            unreachable!("an object literal")
        };
        Ok(body)
    }

    /// The channel always; lists and segments when an audience names them.
    fn lookups(entries: &[&Self]) -> LookupNeeds {
        let present: Vec<&&Self> = entries.iter().filter(|c| c.ensure.is_present()).collect();
        let names = |f: fn(&Audience) -> bool| present.iter().any(|c| c.audience.as_ref().is_some_and(f));
        LookupNeeds {
            channels: !present.is_empty(),
            lists: names(|a| !a.lists.is_empty()),
            segments: names(|a| !a.segments.is_empty()),
            ..LookupNeeds::default()
        }
    }

    fn export_lookups(live: &[LiveCampaign]) -> LookupNeeds {
        let any = !live.is_empty();
        LookupNeeds { channels: any, lists: any, segments: any, ..LookupNeeds::default() }
    }

    fn refuse_update(&self, live: &LiveCampaign, changed: &[&str]) -> Option<String> {
        (live.status != "draft").then(|| {
            format!(
                "campaign {} is {}: {} cannot change; cancel it and create a new campaign",
                self.name,
                live.status,
                changed.join(", ")
            )
        })
    }

    fn skip_create(&self) -> bool {
        self.state_or_draft() == CampaignState::Cancelled
    }

    fn actions(&self, live: Option<&LiveCampaign>) -> Vec<Step> {
        self.lifecycle(live.map_or("draft", |l| l.status.as_str()))
    }

    /// `start` and `resume` hold once the campaign runs (or has completed), `pause` once paused, `cancel`
    /// once cancelled.
    fn action_holds(action: &str, live: &LiveCampaign) -> Option<bool> {
        let status = live.status.as_str();
        match action {
            "start" | "resume" => Some(matches!(status, "running" | "completed")),
            "pause" => Some(status == "paused"),
            "cancel" => Some(status == "cancelled"),
            _ => None,
        }
    }

    fn refuse_delete(live: &LiveCampaign) -> Option<String> {
        matches!(live.status.as_str(), "running" | "paused").then(|| {
            format!(
                "campaign {} is {}: it cannot be deleted while sending; set `state: cancelled` first",
                live.name, live.status
            )
        })
    }

    /// Channel, lists and segments by names that resolve back to the same ids; a campaign whose references
    /// have no such name cannot be expressed. `completed` is written as `running`, which it satisfies.
    fn from_live(l: &LiveCampaign, lookups: &Lookups) -> Result<Self, String> {
        let not = |what: &str| {
            format!("campaign \"{}\" (id {}) is not exported: its {what} has no name that identifies it", l.name, l.id)
        };
        let channel_id = l.channel_id.or_else(|| l.client_setting.as_ref().and_then(|c| c.id));
        let (channel, channel_id) =
            channel_id.and_then(|id| channel_ref(id, &lookups.channels)).ok_or_else(|| not("channel"))?;
        let names = |ids: &Option<Vec<u64>>, known: &[ContactList], what: &str| -> Result<Vec<String>, String> {
            ids.iter().flatten().map(|id| unique_name(*id, known).ok_or_else(|| not(what))).collect()
        };
        let audience = Audience {
            lists: names(&l.list_ids, &lookups.lists, "contact list")?,
            segments: names(&l.segment_ids, &lookups.segments, "segment")?,
            contacts: l.contact_ids.clone().unwrap_or_default(),
        };
        let state = match l.status.as_str() {
            "draft" => None,
            "running" | "completed" => Some(CampaignState::Running),
            "paused" => Some(CampaignState::Paused),
            "cancelled" => Some(CampaignState::Cancelled),
            other => {
                return Err(format!(
                    "campaign \"{}\" (id {}) is `{other}`, a state skyform does not know",
                    l.name, l.id
                ))
            }
        };
        Ok(CampaignSpec {
            id: None,
            name: l.name.clone(),
            ensure: Ensure::Present,
            channel,
            channel_id,
            audience: Some(audience),
            message: Some(Text::Inline(l.message.clone().unwrap_or_default())),
            state,
            is_new_number: l.is_new_number.then_some(true),
            origin: Origin::default(),
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
