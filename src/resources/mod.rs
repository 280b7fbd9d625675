//! The resource kinds skyform manages: one registry, and one file per kind.
//!
//! **The registry** (the `registry!` table below) lists every kind once, in plan order. Everything per kind
//! is generated from it or visits it: the [`Kind`] enum and its names, the [`Declared`] storage of manifest
//! entries (and so the manifest sections and schema), and the `with_kind!` dispatch that every generic engine
//! (manifest checks, planning, the digest, saved-plan checks, apply, verification, export) uses to reach a
//! kind's type. No other per-kind list exists outside this file and the kind files.
//!
//! **A kind's file** (`agent.rs`, ...) holds everything about that kind: its manifest type (from which the
//! JSON Schema is generated), its live type as the API returns it, its API path, its natural key, its offline
//! checks, its canonical form, its wire form, and its rules as hooks of [`Managed`] (refusals, lifecycle
//! actions, rules after matching such as the default agent, lookups, secret fields, export). Every hook has a
//! default, so a plain CRUD kind implements only what differs.
//!
//! Adding a kind: a file here, a file in `src/sandbox/`, and one line in each registry.

pub mod account;
pub mod agent;
pub mod campaign;
pub mod common;
pub mod contact_list;
pub mod knowledge;
pub mod lenient;
pub mod lookup;
pub mod tag;
pub mod team;
pub mod voice;
pub mod webhook;

pub use crate::source::Origin;
pub use common::{
    canon_ids, canon_refs, canon_short, canon_text, https_problem, valid_email, Checks, Ensure, Fields, Secret,
    SecretRef, Text, SECRET_PREFIX,
};

use crate::source::Problem;
use serde_json::{Map, Value};
use std::fmt;

/// Generates the per-kind items from the table below. `$d` is a literal `$`, so that the generated
/// `with_kind!` and `each_kind!` macros can have metavariables of their own.
macro_rules! registry {
    ($d:tt $($V:ident $section:ident $Spec:path, $shape:ident;)*) => {
        /// The kinds, in plan order, as manifests (`agents:`), `settings.prune`, `--prune` and `--target` name
        /// them.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $($V,)*
        }

        impl Kind {
            /// Every kind, in plan order.
            pub const ALL: &'static [Kind] = &[$(Kind::$V,)*];

            /// The manifest section and command-line name: `agents`, `knowledge_base`, ...
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$V => stringify!($section),)*
                }
            }
        }

        /// The manifest entries of every kind, as loaded: one list per kind.
        #[derive(Debug, Default, Clone)]
        pub struct Declared {
            $(pub $section: Vec<$Spec>,)*
        }

        $(
            impl Shaped for $Spec {
                const SINGLETON: bool = registry!(@one $shape);
            }
            impl Holds<$Spec> for Declared {
                fn entries(&self) -> &Vec<$Spec> {
                    &self.$section
                }
                fn entries_mut(&mut self) -> &mut Vec<$Spec> {
                    &mut self.$section
                }
            }
        )*

        /// `with_kind!(kind, S => expr)`: evaluates `expr` with `S` as the kind's manifest type (a
        /// [`Managed`]), for generic engines that need the kind's own types.
        macro_rules! with_kind {
            ($d kind:expr, $d S:ident => $d body:expr) => {
                match $d kind {
                    $(crate::resources::Kind::$V => {
                        type $d S = $Spec;
                        $d body
                    })*
                }
            };
        }

        /// `each_kind!(callback)`: calls `callback! { Variant section Spec; ... }` with the whole table, for
        /// items that need a field per kind (the manifest schema).
        #[allow(unused_macros)]
        macro_rules! each_kind {
            ($d callback:ident) => {
                $d callback! { $($V $section $Spec, $shape;)* }
            };
        }
    };
    (@one many) => { false };
    (@one one) => { true };
}

/// Whether a kind is one object per account (`one` in the registry) or a list (`many`): set by the
/// registry line, so the manifest reader, its schema, the planner and export agree.
pub trait Shaped {
    /// One object per account (`account:`, `voice:`): its section is a mapping, not a list; it is never
    /// created, deleted or pruned, and the entry matches the account's object whatever its key.
    const SINGLETON: bool;
}

// The registry. Order is plan order: a kind's creates and updates come before those of the kinds below it,
// its deletes after theirs.
registry! { $
    Agents          agents          crate::resources::agent::AgentSpec, many;
    KnowledgeBase   knowledge_base  crate::resources::knowledge::KnowledgeEntrySpec, many;
    Webhooks        webhooks        crate::resources::webhook::WebhookSpec, many;
    Team            team            crate::resources::team::TeamMemberSpec, many;
    Tags            tags            crate::resources::tag::TagSpec, many;
    ContactLists    contact_lists   crate::resources::contact_list::ContactListSpec, many;
    Segments        segments        crate::resources::contact_list::SegmentSpec, many;
    Campaigns       campaigns       crate::resources::campaign::CampaignSpec, many;
    Account         account         crate::resources::account::AccountSpec, one;
    Voice           voice           crate::resources::voice::VoiceSpec, one;
}

impl Kind {
    /// One object of the kind, for messages: "agent", "knowledge entry", ...
    pub fn singular(self) -> &'static str {
        with_kind!(self, S => <S as Entry>::LABEL)
    }

    /// One per account (`account`, `voice`): a mapping in manifests, never created or deleted.
    pub fn is_singleton(self) -> bool {
        with_kind!(self, S => <S as Shaped>::SINGLETON)
    }

    /// Several objects of the kind: "agents", "knowledge entries", ...
    pub fn plural(self) -> &'static str {
        with_kind!(self, S => <S as Entry>::PLURAL)
    }

    /// The section title renderers use: "Agents", "Knowledge base", ...
    pub fn title(self) -> &'static str {
        with_kind!(self, S => <S as Entry>::TITLE)
    }

    /// The manifest key holding the natural key (`name`, `title`, `email`).
    pub fn key_field(self) -> &'static str {
        with_kind!(self, S => <S as Entry>::KEY_FIELD)
    }

    /// A kind by its name or its singular (`agents`, `agent`, `knowledge_entry`).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s || k.singular().replace(' ', "_") == s)
    }

    /// Natural keys in the form they are compared in (see [`Resource::match_key`]).
    pub fn match_key(self, key: &str) -> String {
        with_kind!(self, S => <<S as Managed>::R as Resource>::match_key(key))
    }

    /// Every kind's name, for messages: `agents, knowledge_base, ...`.
    pub fn names() -> String {
        Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Access to one kind's list in [`Declared`] (implemented by the registry for each kind).
pub trait Holds<S> {
    fn entries(&self) -> &Vec<S>;
    fn entries_mut(&mut self) -> &mut Vec<S>;
}

impl Declared {
    /// One kind's entries: `declared.of::<AgentSpec>()`.
    pub fn of<S>(&self) -> &[S]
    where
        Self: Holds<S>,
    {
        self.entries()
    }

    /// How many entries a kind declares.
    pub fn count(&self, kind: Kind) -> usize {
        with_kind!(kind, S => self.of::<S>().len())
    }
}

/// Fields whose manifest value is a [`SecretRef`] (`${NAME}`) rather than text: never interpolated into
/// anything shown. `section` is a manifest section name.
pub fn is_secret_field(section: &str, field: &str) -> bool {
    Kind::ALL
        .iter()
        .find(|k| k.as_str() == section)
        .is_some_and(|k| with_kind!(*k, S => <S as Managed>::SECRET_FIELDS.contains(&field)))
}

/// The accessors every spec type implements the same way (its `id`, `ensure` and `origin` fields).
macro_rules! entry_fields {
    () => {
        fn id(&self) -> Option<u64> {
            self.id
        }
        fn set_id(&mut self, id: Option<u64>) {
            self.id = id;
        }
        fn ensure(&self) -> $crate::resources::Ensure {
            self.ensure
        }
        fn origin(&self) -> &$crate::resources::Origin {
            &self.origin
        }
        fn origin_mut(&mut self) -> &mut $crate::resources::Origin {
            &mut self.origin
        }
    };
}
pub(crate) use entry_fields;

/// The `Entry` methods of a singleton (one per account): its key is its section's name, it has no id to
/// pin and is never absent.
macro_rules! singleton_entry_fields {
    ($key:literal) => {
        fn natural_key(&self) -> String {
            $key.into()
        }
        fn id(&self) -> Option<u64> {
            None
        }
        fn set_id(&mut self, _: Option<u64>) {}
        fn ensure(&self) -> $crate::resources::Ensure {
            $crate::resources::Ensure::Present
        }
        fn origin(&self) -> &$crate::resources::Origin {
            &self.origin
        }
        fn origin_mut(&mut self) -> &mut $crate::resources::Origin {
            &mut self.origin
        }
    };
}
pub(crate) use singleton_entry_fields;

/// What every kind's manifest entry offers the generic code: its key, pin, `ensure`, origin, checks, texts.
pub trait Entry: Shaped {
    /// One object, for messages: "agent", "knowledge entry", ...
    const LABEL: &'static str;
    /// Several: "agents", "knowledge entries", ...
    const PLURAL: &'static str;
    /// The section title renderers use: "Agents", ...
    const TITLE: &'static str;
    /// The manifest key holding the natural key (`name`, `title`, `email`); empty for a singleton.
    const KEY_FIELD: &'static str;
    /// The natural key as written.
    fn natural_key(&self) -> String;
    fn id(&self) -> Option<u64>;
    /// Pins the entry (export pins duplicates).
    fn set_id(&mut self, id: Option<u64>);
    fn ensure(&self) -> Ensure;
    fn origin(&self) -> &Origin;
    fn origin_mut(&mut self) -> &mut Origin;
    /// Checks of this entry alone; `Checks` collects the problems.
    fn check(&self, c: &mut Checks);
    /// Checks across the kind's entries (one default agent); unique keys and ids are checked for every
    /// kind by the loader.
    fn check_together(_entries: &[Self], _c: &mut Checks)
    where
        Self: Sized,
    {
    }
    /// The long-text fields (`{file:}`/`{prompt:}` capable), for resolution and export.
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        Vec::new()
    }
}

/// One kind as the API serves it: where it lives, what a live object looks like, how it is keyed.
/// The API client is generic over this, so a new kind needs only its own file here.
pub trait Resource: Send + Sync + 'static {
    const KIND: Kind;
    /// The collection path under the base URL, e.g. `/ai-agents`.
    const PATH: &'static str;
    /// The action that hands out a new secret, when a create's answer carries one that was lost with it
    /// (webhooks: `regenerate-secret`).
    const SECRET_ACTION: Option<&'static str> = None;
    /// One object per account: `GET PATH` answers the object itself, not a list.
    const SINGLETON: bool = false;
    /// How an update is sent: `PUT PATH/{id}` with every managed field, or for a singleton
    /// `PATCH <path>` with only the fields the manifest names.
    const UPDATE: Update = Update::Put;
    /// The list's default page size when the contract says it is paginated ([doc]/[assumed], contract §3);
    /// the client asks 100 a page either way. `doctor` checks it against the account.
    const PAGE_SIZE: Option<u64> = None;
    /// A field list items leave out and the single GET has, so plans read those objects singly
    /// ([assumed], contract §3). `doctor` checks both halves.
    const DETAIL_FIELD: Option<&'static str> = None;
    /// Where this kind's assumptions live (this file, the sandbox's), named by `doctor` when one does not
    /// hold.
    const FILES: &'static [&'static str] = &[];
    type Live: serde::de::DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static;
    fn live_id(live: &Self::Live) -> u64;
    /// The natural key of a live object, as the API spells it.
    fn live_key(live: &Self::Live) -> String;
    /// Live objects that are not configuration at all (the apply lease's lock tags): left out of every
    /// listing, so they are never matched, pruned, shown as unmanaged or exported.
    fn hidden(_live: &Self::Live) -> bool {
        false
    }
    /// What deleting this live object destroys that cannot be recreated (a contact list's memberships):
    /// shown on the delete's line, and such a delete is blocked unless `--allow-deletes KIND`.
    fn delete_loses(_live: &Self::Live) -> Option<String> {
        None
    }
    /// Why a person most likely means this one among live objects sharing a natural key (the default
    /// agent), for the hint that asks them to pin one; `None`: nothing sets it apart, the oldest is offered.
    fn likely_meant(_live: &Self::Live) -> Option<&'static str> {
        None
    }
    /// What in a list item changes whenever a field only the single GET shows changes, as text; `None`:
    /// the object's details are never cached (see `api::cache`). Knowledge: `updated_at`; campaigns: having
    /// left `draft` (the API edits only drafts).
    fn validator(_live: &Self::Live) -> Option<String> {
        None
    }
    /// When the object was created, where the API says (for finding what a dead run created).
    fn created_at(_live: &Self::Live) -> Option<time::OffsetDateTime> {
        None
    }
    /// The form natural keys are compared in, on both sides: Unicode NFC (a decomposed `Café` is the
    /// composed one), surrounding space trimmed; kinds may fold more (team emails fold case).
    fn match_key(key: &str) -> String {
        common::nfc(key.trim())
    }
    /// The fields every read of the object carries (list item or single GET) that change when anyone
    /// edits it: what a saved plan's fingerprint covers, with the managed fields where they were read.
    fn summary(live: &Self::Live) -> Value;
}

/// How a kind's update is sent (see [`Resource::UPDATE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// `PUT PATH/{id}`, the whole managed body.
    Put,
    /// `PATCH <path>`, only the fields the manifest names (singletons).
    Patch(&'static str),
}

/// A reference, in a request body or a declared field, to an object of another kind by natural key:
/// `{"$ref": {"kind": "contact_lists", "key": "Spring Leads"}}`. When the same plan creates that object the
/// plan replaces it with `{"$created": N}` (the create's change index, resolved to the new id at send time)
/// and orders the referring change after it; a saved plan records the reference, never an id it could not
/// know. The general mechanism behind cross-kind references: a kind only writes this value.
pub fn reference(kind: Kind, key: &str) -> Value {
    serde_json::json!({"$ref": {"kind": kind, "key": key}})
}

/// The `(kind, key)` of a [`reference`], if `v` is one.
pub fn as_reference(v: &Value) -> Option<(Kind, String)> {
    let o = v.as_object().filter(|o| o.len() == 1)?.get("$ref")?;
    let kind = serde_json::from_value(o.get("kind")?.clone()).ok()?;
    Some((kind, o.get("key")?.as_str()?.to_string()))
}

/// Names of the lookups campaigns refer to, resolved against the live account.
#[derive(Debug, Default, Clone)]
pub struct Lookups {
    pub channels: Vec<lookup::Channel>,
    pub lists: Vec<lookup::ContactList>,
    pub segments: Vec<lookup::ContactList>,
    /// The account's webhook event catalogue (names).
    pub events: Vec<String>,
    /// The voice dialect codes the account offers; empty when unknown (then not checked).
    pub dialects: Vec<String>,
    /// Natural keys of every entry the manifests declare present, by kind: what another kind may refer to
    /// before it exists (a campaign's new contact list), as a [`reference`].
    pub declared: std::collections::HashMap<Kind, Vec<String>>,
    /// Natural keys the manifests declare `ensure: absent`, by kind: this plan deletes them.
    pub absent: std::collections::HashMap<Kind, Vec<String>>,
    /// Kinds this plan prunes: their live objects the manifests do not declare are deleted.
    pub pruned: Vec<Kind>,
}

impl Lookups {
    /// Whether the manifests declare an object of `kind` named `key` (compared as the kind compares keys).
    pub fn declares(&self, kind: Kind, key: &str) -> bool {
        let want = kind.match_key(key);
        self.declared.get(&kind).is_some_and(|keys| keys.iter().any(|k| kind.match_key(k) == want))
    }

    /// Why this plan deletes the live object of `kind` named `key`, if it does (declared absent, or
    /// pruned without being declared): another kind may not refer to it.
    pub fn deletes(&self, kind: Kind, key: &str) -> Option<&'static str> {
        let want = kind.match_key(key);
        if self.absent.get(&kind).is_some_and(|keys| keys.iter().any(|k| kind.match_key(k) == want)) {
            return Some("the manifests declare it `ensure: absent`");
        }
        (self.pruned.contains(&kind) && !self.declares(kind, key))
            .then_some("its kind is pruned and the manifests do not declare it")
    }
}

/// Which lookups a kind's entries need (read once per run, only for kinds in scope).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LookupNeeds {
    pub channels: bool,
    pub lists: bool,
    pub segments: bool,
    pub events: bool,
    /// The voice dialect codes (`GET /voice/dialects`).
    pub dialects: bool,
}

impl LookupNeeds {
    pub fn union(self, o: LookupNeeds) -> LookupNeeds {
        LookupNeeds {
            channels: self.channels || o.channels,
            lists: self.lists || o.lists,
            segments: self.segments || o.segments,
            events: self.events || o.events,
            dialects: self.dialects || o.dialects,
        }
    }
}

/// What the plan engine needs of a kind beyond [`Entry`] and [`Resource`]: canonical fields for comparison,
/// the wire form for requests, and the kind's own rules as hooks (each with a default).
pub trait Managed:
    Entry + serde::Serialize + for<'de> serde::Deserialize<'de> + Clone + fmt::Debug + Send + Sync + 'static
{
    type R: Resource;
    /// True when the list lacks managed fields, so matched objects need a single GET.
    const NEEDS_DETAIL: bool = false;
    /// Manifest fields that hold a [`SecretRef`] rather than text (team: `password`).
    const SECRET_FIELDS: &'static [&'static str] = &[];

    /// The managed fields this entry declares, canonical (the comparison form). Names that must resolve
    /// against the account (channels, lists) fail here with the entry's position.
    fn desired(&self, lookups: &Lookups) -> Result<Fields, Problem>;
    /// A live object's managed fields, canonical.
    fn live_fields(live: &<Self::R as Resource>::Live) -> Fields;
    /// The body of a create (or, `creating` false, an update's PUT with every managed field) in wire form:
    /// case and text as written, secrets as [`SecretRef::placeholder`]s.
    fn body(&self, lookups: &Lookups, creating: bool) -> Result<Map<String, Value>, Problem>;
    /// Secret fields this entry declares: sent on create, never compared or shown.
    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        Vec::new()
    }
    /// What is wrong with a secret's value, checked when it is resolved, before any request (the value is
    /// never shown).
    fn check_secret(_field: &str, _value: &str) -> Option<String> {
        None
    }
    /// Why an update of this live object cannot be done (a running campaign, a changed KB type).
    fn refuse_update(&self, _live: &<Self::R as Resource>::Live, _changed: &[&str]) -> Option<String> {
        None
    }
    /// Why this live object is outside what skyform manages (a knowledge entry made by file upload): it is
    /// never matched by name, never pruned, and deleted only by an `ensure: absent` entry pinned to its id.
    fn unmanageable(_live: &<Self::R as Resource>::Live) -> Option<String> {
        None
    }
    /// Why this live object cannot be deleted (a running campaign).
    fn refuse_delete(_live: &<Self::R as Resource>::Live) -> Option<String> {
        None
    }
    /// Nothing to create for this entry even though it is absent (a campaign declared `cancelled`).
    fn skip_create(&self) -> bool {
        false
    }
    /// Actions after the entry's create or update: lifecycle moves, secret rotation. Each is
    /// `POST {PATH}/{id}/{action}`.
    fn actions(&self, _live: Option<&<Self::R as Resource>::Live>) -> Vec<Step> {
        Vec::new()
    }
    /// Whether an action's target state holds on this live object (None: it cannot be told), for
    /// verification and for counting a repeated action as done.
    fn action_holds(_action: &str, _live: &<Self::R as Resource>::Live) -> Option<bool> {
        None
    }
    /// Rules of the whole kind once entries are matched to live objects (`matched[i]` for `entries[i]`).
    fn rules(
        _entries: &[&Self],
        _matched: &[Option<&<Self::R as Resource>::Live>],
        _live: &[<Self::R as Resource>::Live],
    ) -> Vec<Rule> {
        Vec::new()
    }
    /// The lookups these entries need.
    fn lookups(_entries: &[&Self]) -> LookupNeeds {
        LookupNeeds::default()
    }
    /// The lookups `from_live` needs to name what these live objects refer to.
    fn export_lookups(_live: &[<Self::R as Resource>::Live]) -> LookupNeeds {
        LookupNeeds::default()
    }
    /// The manifest entry that declares this live object as it is, for `export`; or why it cannot be
    /// expressed (it is then left out with a warning naming it).
    fn from_live(live: &<Self::R as Resource>::Live, lookups: &Lookups) -> Result<Self, String>;
}

/// One action of a plan, or the reason it cannot be done.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Do(&'static str),
    Refuse(String),
}

/// What a kind's [`Managed::rules`] add once entries are matched (the default agent is the example).
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// An action on `entries[entry]` after its create or update, with a note for the plan.
    Action { entry: usize, action: &'static str, note: Option<String> },
    /// `entries[entry]` asks for something the API cannot do.
    Refuse { entry: usize, reason: String },
    /// The delete of this live object is refused.
    RefuseDelete { id: u64, reason: String },
    /// This kind's deletes wait for every change doing this action (the old default agent goes only after
    /// the new one is default).
    DeletesAfter(&'static str),
}
