//! Team members (`/team`). Natural key: `email` (compared case-insensitively).
//!
//! `password` is write-only: sent on create, never compared, never shown. `email` cannot change.

use super::{valid_email, Checks, Ensure, Entry, Lookups, Managed, Origin, Resource, SecretRef};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Active,
    Inactive,
}

/// A team member.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMemberSpec {
    /// Pins this entry to one live member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The natural key and login (compared without case); cannot change.
    pub email: String,
    /// `absent` deletes the live object this entry names.
    #[serde(default, skip_serializing_if = "Ensure::is_present")]
    pub ensure: Ensure,
    /// The member's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `admin` or `agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `active` (default) or `inactive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<MemberStatus>,
    /// Needed only to create the member: `${NAME}`, read from SKYFORM_SECRET_NAME when the create is sent
    /// (at least 8 characters); never compared, shown or saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for TeamMemberSpec {
    const LABEL: &'static str = "team member";
    const PLURAL: &'static str = "team members";
    const TITLE: &'static str = "Team";
    const KEY_FIELD: &'static str = "email";

    fn natural_key(&self) -> String {
        self.email.clone()
    }
    super::entry_fields!();

    fn check(&self, c: &mut Checks) {
        let o = &self.origin;
        if !valid_email(&self.email) {
            c.push(
                o.problem("email", format!("`{}` is not a valid email address", self.email))
                    .hint("write it as name@example.com"),
            );
        }
        if self.ensure == Ensure::Absent {
            return;
        }
        let label = format!("team member `{}`", self.email);
        c.require(o, "name", &self.name, &label);
        c.require(o, "role", &self.role, &label);
        if let Some(n) = &self.name {
            c.short_text(o, "name", n);
        }
    }
}

/// A team member as the API returns it (list items carry no timestamps).
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct LiveTeamMember {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// `/team`: paginated.
pub struct Team;

impl Resource for Team {
    const KIND: super::Kind = super::Kind::Team;
    const PATH: &'static str = "/team";
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/team.rs"];
    const PAGE_SIZE: Option<u64> = Some(15);
    type Live = LiveTeamMember;
    fn live_id(l: &LiveTeamMember) -> u64 {
        l.id
    }
    fn live_key(l: &LiveTeamMember) -> String {
        l.email.clone()
    }
    /// Emails are logins: the API refuses `LAYLA@x` when `layla@x` exists ([doc] unique email).
    fn match_key(key: &str) -> String {
        super::common::nfc(key.trim()).to_lowercase()
    }
    fn summary(l: &LiveTeamMember) -> Value {
        json!({"id": l.id, "email": l.email, "name": l.name, "role": l.role, "status": l.status})
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Inactive => "inactive",
        }
    }
}

impl Managed for TeamMemberSpec {
    type R = Team;
    const SECRET_FIELDS: &'static [&'static str] = &["password"];

    fn desired(&self, _: &Lookups) -> Result<super::Fields, Problem> {
        Ok(vec![
            ("email", self.email.trim().to_lowercase().into()),
            ("name", super::canon_short(self.name.as_deref().unwrap_or(""))),
            ("role", self.role.map_or("agent", Role::as_str).into()),
            ("status", self.status.map_or("active", MemberStatus::as_str).into()),
        ])
    }

    fn live_fields(l: &LiveTeamMember) -> super::Fields {
        vec![
            ("email", l.email.trim().to_lowercase().into()),
            ("name", super::canon_short(&l.name)),
            ("role", l.role.as_str().into()),
            ("status", l.status.as_deref().unwrap_or("active").into()),
        ]
    }

    /// The email as written, case included; the password as a reference, on create only; no email on
    /// update (it is immutable).
    fn body(&self, _: &Lookups, creating: bool) -> Result<Map<String, Value>, Problem> {
        let mut body = Map::new();
        if creating {
            body.insert("email".into(), self.email.trim().into());
        }
        body.insert("name".into(), self.name.clone().unwrap_or_default().into());
        body.insert("role".into(), self.role.map_or("agent", Role::as_str).into());
        if creating {
            if let Some(p) = &self.password {
                body.insert("password".into(), p.placeholder());
            }
            // The API's create takes no status ([doc]): an inactive member is deactivated by a later update.
        } else {
            body.insert("status".into(), self.status.map_or("active", MemberStatus::as_str).into());
        }
        Ok(body)
    }

    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        self.password.iter().map(|p| ("password", p)).collect()
    }

    /// The API's minimum ([doc] §3 Team members).
    fn check_secret(field: &str, value: &str) -> Option<String> {
        (field == "password" && value.chars().count() < 8)
            .then(|| "is shorter than 8 characters, the API's minimum for a password".to_string())
    }

    fn refuse_update(&self, live: &LiveTeamMember, changed: &[&str]) -> Option<String> {
        changed.contains(&"email").then(|| {
            format!(
                "team member {} cannot change email to {}: the email is the login; add a new member and remove this one",
                live.email, self.email
            )
        })
    }

    fn from_live(l: &LiveTeamMember, _: &Lookups) -> Result<Self, String> {
        let role = match l.role.as_str() {
            "admin" => Role::Admin,
            "agent" => Role::Agent,
            other => {
                return Err(format!(
                    "team member {} (id {}) has role `{other}`, which skyform does not know",
                    l.email, l.id
                ))
            }
        };
        Ok(TeamMemberSpec {
            id: None,
            email: l.email.clone(),
            ensure: Ensure::Present,
            name: Some(l.name.clone()),
            role: Some(role),
            status: l.status.as_deref().filter(|s| *s == "inactive").map(|_| MemberStatus::Inactive),
            password: None,
            origin: Origin::default(),
        })
    }
}
