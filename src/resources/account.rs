//! The account profile (`/account`): a singleton, written with `PATCH /account`.
//!
//! [doc] §3 Account profile: `GET /account` → `{id, company_name, slug, address, timezone (IANA),
//! country {id, name, code}, ...}`; `PATCH /account` (partial) takes `company_name`, `address`, `timezone`
//! and `country_id` (the dashboard's own numbering, not ISO) and answers with no `data`. Only the fields the
//! manifest names are compared and sent. A country may be given by name, resolved from the documented part
//! of the dashboard's table ([`COUNTRIES`]); any other country needs `country_id`.

use super::{Checks, Entry, Lookups, Managed, Origin, Resource, Update};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The dashboard's country ids that are documented ([doc] §3; the rest of its table was not recovered).
pub const COUNTRIES: &[(&str, u64)] = &[
    ("Afghanistan", 1),
    ("Bahrain", 18),
    ("Egypt", 65),
    ("Jordan", 111),
    ("Kuwait", 117),
    ("Lebanon", 121),
    ("Qatar", 179),
    ("Saudi Arabia", 194),
    ("United Arab Emirates", 231),
    ("United Kingdom", 232),
    ("United States", 233),
];

/// The account's profile: only what is written here is managed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// The business name shown in the dashboard and to customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// The business address shown to customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// An IANA time zone, e.g. `Asia/Riyadh`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// A country by name, from the documented ones (Saudi Arabia, United Arab Emirates, Egypt, ...); any
    /// other needs `country_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The dashboard's country id (not an ISO code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_id: Option<u64>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

/// `Area/City` (or `UTC`): the shape of an IANA zone name; the API checks the rest.
fn iana_shaped(tz: &str) -> bool {
    let part = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c));
    tz == "UTC"
        || (tz.contains('/') && tz.split('/').all(part) && tz.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
}

impl AccountSpec {
    fn country_id(&self) -> Result<Option<u64>, Problem> {
        if let Some(id) = self.country_id {
            return Ok(Some(id));
        }
        let Some(name) = &self.country else { return Ok(None) };
        match COUNTRIES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.trim())) {
            Some((_, id)) => Ok(Some(*id)),
            None => {
                let names: Vec<&str> = COUNTRIES.iter().map(|(n, _)| *n).collect();
                let p = self.origin.problem("country", format!("no documented country id for `{name}`"));
                Err(match crate::source::closest(name, &names) {
                    Some(b) => {
                        p.hint(format!("did you mean `{b}`? Otherwise give `country_id:` (the dashboard's number)"))
                    }
                    None => p.hint("give `country_id:` instead: the dashboard's number for it (not an ISO code)"),
                })
            }
        }
    }
}

impl Entry for AccountSpec {
    const LABEL: &'static str = "account profile";
    const PLURAL: &'static str = "account profile";
    const TITLE: &'static str = "Account";
    const KEY_FIELD: &'static str = "";

    super::singleton_entry_fields!("account");

    fn check(&self, c: &mut Checks) {
        let o = &self.origin;
        if let Some(n) = &self.company_name {
            c.short_text(o, "company_name", n);
        }
        if let Some(tz) = &self.timezone {
            if !iana_shaped(tz.trim()) {
                c.push(
                    o.problem("timezone", format!("`{tz}` is not an IANA time zone name"))
                        .hint("write it as Area/City, e.g. Asia/Riyadh or Europe/London, or UTC"),
                );
            }
        }
        if self.country.is_some() && self.country_id.is_some() {
            c.push(o.problem("country", "give `country` or `country_id`, not both"));
        }
        if let Err(p) = self.country_id() {
            c.push(p);
        }
    }
}

/// The account as `GET /account` returns it (newer docs' shape; the older `name` is read as the company
/// name).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LiveAccount {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub country: Option<LiveCountry>,
    /// Older answers (and the write's field) give the id flat ([assumed] read too).
    #[serde(default)]
    pub country_id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LiveCountry {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
}

impl LiveAccount {
    /// The country's id, nested (`country: {id, name}`) or flat (`country_id`).
    pub fn country_id(&self) -> Option<u64> {
        self.country.as_ref().map(|c| c.id).or(self.country_id)
    }

    fn company(&self) -> Option<&str> {
        self.company_name.as_deref().or(self.name.as_deref())
    }
}

/// `/account`: one object; updates are `PATCH /account`.
pub struct Accounts;

impl Resource for Accounts {
    const KIND: super::Kind = super::Kind::Account;
    const PATH: &'static str = "/account";
    const SINGLETON: bool = true;
    const UPDATE: Update = Update::Patch("/account");
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/account.rs"];
    type Live = LiveAccount;
    fn live_id(l: &LiveAccount) -> u64 {
        l.id
    }
    fn live_key(_: &LiveAccount) -> String {
        "account".into()
    }
    fn summary(l: &LiveAccount) -> Value {
        json!({"id": l.id, "company_name": l.company(), "address": l.address, "timezone": l.timezone, "country": l.country_id()})
    }
}

impl Managed for AccountSpec {
    type R = Accounts;

    /// Only the fields the manifest names.
    fn desired(&self, _: &Lookups) -> Result<super::Fields, Problem> {
        let mut f: super::Fields = Vec::new();
        if let Some(n) = &self.company_name {
            f.push(("company_name", super::canon_short(n)));
        }
        if let Some(a) = &self.address {
            f.push(("address", super::canon_text(Some(a))));
        }
        if let Some(tz) = &self.timezone {
            f.push(("timezone", tz.trim().into()));
        }
        if let Some(id) = self.country_id()? {
            f.push(("country_id", id.into()));
        }
        Ok(f)
    }

    fn live_fields(l: &LiveAccount) -> super::Fields {
        vec![
            ("company_name", super::canon_short(l.company().unwrap_or(""))),
            ("address", super::canon_text(l.address.as_deref())),
            ("timezone", l.timezone.as_deref().map_or(Value::Null, |t| t.trim().into())),
            ("country_id", l.country_id().map_or(Value::Null, Into::into)),
        ]
    }

    /// A partial body: what the manifest names, as written.
    fn body(&self, _: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
        let mut body = Map::new();
        if let Some(n) = &self.company_name {
            body.insert("company_name".into(), n.trim().into());
        }
        if let Some(a) = &self.address {
            body.insert("address".into(), a.clone().into());
        }
        if let Some(tz) = &self.timezone {
            body.insert("timezone".into(), tz.trim().into());
        }
        if let Some(id) = self.country_id()? {
            body.insert("country_id".into(), id.into());
        }
        Ok(body)
    }

    /// The country by name when the documented table names its id, else by id.
    fn from_live(l: &LiveAccount, _: &Lookups) -> Result<Self, String> {
        let country_id = l.country_id();
        let by_name = country_id.and_then(|id| COUNTRIES.iter().find(|(_, i)| *i == id)).map(|(n, _)| n.to_string());
        Ok(AccountSpec {
            company_name: l.company().map(str::to_string),
            address: l.address.clone().filter(|a| !a.trim().is_empty()),
            timezone: l.timezone.clone(),
            country_id: if by_name.is_some() { None } else { country_id },
            country: by_name,
            origin: Origin::default(),
        })
    }
}
