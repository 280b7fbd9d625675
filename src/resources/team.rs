//! Team members (`/team`). Natural key: `email` (compared case-insensitively).
//!
//! `password` is write-only: sent on create, never compared, never shown. `email` cannot change.

use super::{valid_email, Checks, Ensure, Entry, Origin, SecretRef};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Active,
    Inactive,
}

/// A team member.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMemberSpec {
    /// Pins this entry to one live member.
    pub id: Option<u64>,
    /// The natural key and login; cannot change.
    pub email: String,
    #[serde(default)]
    pub ensure: Ensure,
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `active` (default) or `inactive`.
    pub status: Option<MemberStatus>,
    /// Needed only to create the member: `${NAME}`, read from SKYFORM_SECRET_NAME when the create is sent
    /// (at least 8 characters); never compared, shown or saved.
    pub password: Option<SecretRef>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for TeamMemberSpec {
    const R_KIND: super::Kind = super::Kind::Team;
    const LABEL: &'static str = "team member";
    const KEY_FIELD: &'static str = "email";

    fn natural_key(&self) -> String {
        self.email.to_lowercase()
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

impl super::Resource for Team {
    const KIND: super::Kind = super::Kind::Team;
    const PATH: &'static str = "/team";
    type Live = LiveTeamMember;
    fn live_id(l: &LiveTeamMember) -> u64 {
        l.id
    }
    fn live_key(l: &LiveTeamMember) -> String {
        l.email.to_lowercase()
    }
    fn summary(l: &LiveTeamMember) -> serde_json::Value {
        serde_json::json!({"id": l.id, "email": l.email, "name": l.name, "role": l.role, "status": l.status})
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

impl super::Managed for TeamMemberSpec {
    type R = Team;

    fn desired(&self, _: &super::Lookups) -> Result<super::Fields, crate::manifest::problem::Problem> {
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

    /// The password is sent on create only, and only from here: it is in no plan, log or file.
    fn body(&self, fields: &super::Fields, creating: bool, secrets: &super::Secrets) -> serde_json::Value {
        let mut body: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        if creating {
            if let Some(p) = self.password.as_ref().and_then(|r| secrets.get(&r.var)) {
                body.insert("password".into(), p.expose().into());
            }
        } else {
            body.remove("email"); // immutable; sent unchanged it is harmless, but not sending it is clearer
        }
        serde_json::Value::Object(body)
    }

    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        self.password.iter().map(|p| ("password", p)).collect()
    }

    fn refuse_update(&self, live: &LiveTeamMember, changed: &[&str]) -> Option<String> {
        changed.contains(&"email").then(|| {
            format!(
                "team member {} cannot change email to {}: the email is the login; add a new member and remove this one",
                live.email, self.email
            )
        })
    }
}
