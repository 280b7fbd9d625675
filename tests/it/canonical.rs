//! Canonicalisation: every server default and ordering difference the contract allows compares equal,
//! so a plan over an account that matches its manifests shows no changes. And export's `from_live`: for
//! every live object here, the entry a kind builds from it compares equal to it.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use skyform::resources::agent::{AgentSpec, LiveAgent};
use skyform::resources::campaign::{CampaignSpec, LiveCampaign};
use skyform::resources::knowledge::{KnowledgeEntrySpec, LiveKnowledgeEntry};
use skyform::resources::lookup::{Channel, ContactList};
use skyform::resources::team::{LiveTeamMember, TeamMemberSpec};
use skyform::resources::webhook::{LiveWebhook, WebhookSpec};
use skyform::resources::{Lookups, Managed, Resource};

fn spec<T: for<'de> Deserialize<'de>>(yaml: &str) -> T {
    let node = skyform::manifest::yaml::parse(yaml).unwrap().0.unwrap();
    T::deserialize(&node).unwrap()
}

fn live<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// `s` and `l` compare equal; and the entry export builds from `l` does too.
fn same<S: Managed>(s: &S, l: &<S::R as Resource>::Live, lookups: &Lookups) {
    assert_eq!(s.desired(lookups).unwrap(), S::live_fields(l));
    from_live_matches::<S>(l, lookups);
}

fn from_live_matches<S: Managed>(l: &<S::R as Resource>::Live, lookups: &Lookups) {
    let back = S::from_live(l, lookups).unwrap_or_else(|why| panic!("{why}"));
    assert_eq!(back.desired(lookups).unwrap(), S::live_fields(l), "from_live of {l:?}");
}

#[test]
fn agent_defaults_nulls_empties_and_trailing_newlines() {
    let s: AgentSpec = spec("name: Sales\nsystem_prompt: \"Sell.\\n\"\n");
    for l in [
        json!({"id": 1, "name": "Sales", "system_prompt": "Sell.", "instruction_prompt": null, "personality_prompt": null,
               "response_guidelines": {}, "is_active": true, "is_default": false}),
        json!({"id": 1, "name": "Sales", "system_prompt": "Sell.\r\n", "instruction_prompt": "", "response_guidelines": null}),
        json!({"id": 1, "name": "Sales", "system_prompt": "Sell.  \n\n", "personality_prompt": "   ", "is_active": 1}),
    ] {
        same(&s, &live::<LiveAgent>(l), &Lookups::default());
    }
    // Guideline order and number-as-string do not matter; an explicit empty map equals none.
    let s: AgentSpec = spec("name: A\nsystem_prompt: p\nresponse_guidelines: {tone: warm, max_length: \"600\"}\n");
    let l =
        json!({"id": 1, "name": "A", "system_prompt": "p", "response_guidelines": {"max_length": 600, "tone": "warm"}});
    same(&s, &live::<LiveAgent>(l), &Lookups::default());
    let s: AgentSpec = spec("name: A\nsystem_prompt: p\nresponse_guidelines: {}\nis_active: true\n");
    same(&s, &live::<LiveAgent>(json!({"id": 1, "name": "A", "system_prompt": "p"})), &Lookups::default());
}

#[test]
fn knowledge_bodies_and_nullable_descriptions() {
    let s: KnowledgeEntrySpec = spec("title: Returns\ntype: text\ndescription: \"\"\ncontent: \"30 days.\\n\"\n");
    let l = json!({"id": 1, "title": "Returns", "type": "text", "description": null, "business_description": "",
                   "status": "active", "content": "30 days."});
    same(&s, &live::<LiveKnowledgeEntry>(l), &Lookups::default());
    let s: KnowledgeEntrySpec =
        spec("title: Cat\ntype: product_catalog\nproducts:\n  - {name: Mug, price: 35}\n  - {name: Pan, price: 189.5, sku: P-1}\n");
    let l = json!({"id": 2, "title": "Cat", "type": "product_catalog", "products": [
        {"name": "Mug", "price": "35.00", "description": "", "sku": null},
        {"name": "Pan", "price": 189.5, "sku": "P-1"}
    ]});
    same(&s, &live::<LiveKnowledgeEntry>(l), &Lookups::default());
    let s: KnowledgeEntrySpec = spec("title: Site\ntype: website\nurl: https://help.example/\n");
    let l =
        json!({"id": 3, "title": "Site", "type": "website", "status": "processing", "url": "https://help.example/"});
    same(&s, &live::<LiveKnowledgeEntry>(l), &Lookups::default());
}

#[test]
fn webhook_events_are_a_set_and_active_is_the_default() {
    let s: WebhookSpec = spec("name: CRM\nurl: https://crm.example/h\nevents: [message.sent, contact.created]\n");
    let l = json!({"id": 1, "name": "CRM", "url": "https://crm.example/h", "events": ["contact.created", "message.sent"],
                   "delivery_logs_count": 4});
    same(&s, &live::<LiveWebhook>(l), &Lookups::default());
}

#[test]
fn team_email_case_status_default_and_password_never_compared() {
    let s: TeamMemberSpec = spec("email: Layla@Example.com\nname: Layla\nrole: admin\npassword: ${LAYLA_PASSWORD}\n");
    let l = json!({"id": 1, "name": "Layla", "email": "layla@example.com", "role": "admin"});
    same(&s, &live::<LiveTeamMember>(l), &Lookups::default());
}

#[test]
fn campaign_audience_order_and_channel_names() {
    let lookups = Lookups {
        channels: vec![live::<Channel>(json!({"id": 5, "type": "whatsapp", "username": "+1555"}))],
        lists: vec![
            live::<ContactList>(json!({"id": 1, "name": "Q1 Leads"})),
            live::<ContactList>(json!({"id": 2, "name": "VIP"})),
        ],
        segments: vec![],
        events: vec![],
        ..Default::default()
    };
    let s: CampaignSpec = spec(
        "name: Spring\nchannel: whatsapp\naudience: {lists: [VIP, Q1 Leads], contacts: [9, 3]}\nmessage: \"Hi!\\n\"\n",
    );
    let l = json!({"id": 1, "name": "Spring", "status": "draft", "channel_id": 5, "message": "Hi!",
                   "list_ids": [1, 2], "segment_ids": [], "contact_ids": [3, 9], "is_new_number": false});
    same(&s, &live::<LiveCampaign>(l), &lookups);
    // The list form (no channel_id, only client_setting) reads the same channel.
    let l = json!({"id": 1, "name": "Spring", "status": "draft", "client_setting": {"id": 5, "name": "+1555", "type": "whatsapp"},
                   "message": "Hi!", "list_ids": [2, 1], "contact_ids": [9, 3]});
    same(&s, &live::<LiveCampaign>(l), &lookups);
}

#[test]
fn real_differences_still_show() {
    let s: AgentSpec = spec("name: Sales\nsystem_prompt: Sell more.\nis_active: false\n");
    let l: LiveAgent = live(json!({"id": 1, "name": "Sales", "system_prompt": "Sell."}));
    let d = s.desired(&Lookups::default()).unwrap();
    let changed: Vec<&str> =
        d.iter().zip(AgentSpec::live_fields(&l)).filter(|(a, b)| a.1 != b.1).map(|(a, _)| a.0).collect();
    assert_eq!(changed, ["system_prompt", "is_active"]);
}

#[test]
fn live_objects_tolerate_nulls_and_odd_shapes() {
    let w: LiveWebhook =
        live(json!({"id": 1, "name": "W", "url": "https://w", "events": null, "is_active": "1", "extra": [1]}));
    assert!(w.events.is_empty() && w.is_active);
    let a: LiveAgent =
        live(json!({"id": 1, "name": "A", "system_prompt": "p", "response_guidelines": [], "is_default": null}));
    assert!(a.response_guidelines.is_empty() && !a.is_default);
    let c: LiveCampaign =
        live(json!({"id": 1, "name": "C", "status": "running", "client_setting": null, "list_ids": null}));
    assert_eq!(c.list_ids, None);
}

/// Shapes the contract allows for the new kinds: an account's country nested or flat, a list's status as
/// 1/0, a bool or a word, voice `enabled` as 0/1.
#[test]
fn new_kinds_read_every_shape_the_contract_allows() {
    use skyform::resources::account::{AccountSpec, LiveAccount};
    use skyform::resources::contact_list::{ContactListSpec, LiveAudience};
    use skyform::resources::voice::{LiveVoice, VoiceSpec};
    let lookups = Lookups::default();
    let s: AccountSpec = spec("country: Saudi Arabia\n");
    let want = s.desired(&lookups).unwrap();
    assert_eq!(want, vec![("country_id", json!(194))]);
    for l in [json!({"id": 1, "country": {"id": 194, "name": "Saudi Arabia"}}), json!({"id": 1, "country_id": 194})] {
        let fields = AccountSpec::live_fields(&live::<LiveAccount>(l.clone()));
        assert!(fields.contains(&("country_id", json!(194))), "{l}: {fields:?}");
    }
    let inactive: ContactListSpec = spec("name: Old\nstatus: inactive\n");
    for status in [json!(0), json!(false), json!("inactive"), json!("0")] {
        let l = live::<LiveAudience>(json!({"id": 1, "name": "Old", "status": status}));
        assert_eq!(inactive.desired(&lookups).unwrap(), ContactListSpec::live_fields(&l), "status {status}");
    }
    let active: ContactListSpec = spec("name: New\n");
    for status in [json!(1), json!(true), json!("active"), json!(null)] {
        let l = live::<LiveAudience>(json!({"id": 1, "name": "New", "status": status}));
        assert_eq!(active.desired(&lookups).unwrap(), ContactListSpec::live_fields(&l), "status {status}");
    }
    let v: VoiceSpec = spec("enabled: true\n");
    let fields = VoiceSpec::live_fields(&live::<LiveVoice>(json!({"enabled": 1, "language": "ar", "dialect": "ksa"})));
    assert!(fields.contains(&("enabled", json!(true))), "{fields:?}");
    assert_eq!(v.desired(&lookups).unwrap(), vec![("enabled", json!(true))]);
}
