//! The commands' operations, cargo-style: each takes what the user asked (a request struct the command
//! line fills in), loads what it needs, owns the connection to the API or to an in-process sandbox, and
//! calls the engines (`manifest`, `plan`, `apply`, `export`). The engines never connect anything themselves
//! and never link the sandbox; the command line only parses arguments, calls an op and prints.

pub mod accounts;
pub mod apply;
pub mod connect;
pub mod doctor;
pub mod export;
pub mod git;
pub mod plan;
pub mod rotate;
pub mod unlock;
pub mod validate;

use crate::vars::{Env, API_KEY_VAR, API_URL_VAR};
use crate::{Error, ErrorKind};
use std::path::PathBuf;

/// The environment as one account's connection sees it: with `settings.api_key_env`, the key is read
/// from that variable (never from `SKYLIGHT_API_KEY`, which may hold another account's key), and
/// `settings.api_url` stands in for `SKYLIGHT_API_URL`.
pub struct AccountEnv<'a> {
    base: Env<'a>,
    key_env: Option<String>,
    api_url: Option<String>,
}

impl<'a> AccountEnv<'a> {
    /// Fails when the account names a key variable that is not set (and no sandbox stands in).
    pub fn new(set: &crate::manifest::ManifestSet, base: Env<'a>, sandbox: bool) -> Result<Self, Error> {
        let settings = &set.settings;
        if let (Some(name), false) = (&settings.api_key_env, sandbox) {
            if base(name).is_none_or(|v| v.trim().is_empty()) {
                let at = set.key_env_at.as_deref().unwrap_or("settings.api_key_env");
                return Err(Error::new(ErrorKind::Usage, format!("{name} is not set: it holds this account's API key ({at})"))
                    .with_hint(format!("export {name}=... (in CI, from the account's secret); SKYLIGHT_API_KEY is not used for an account that names its own variable")));
            }
        }
        if let (Some(url), false) = (&settings.api_url, sandbox) {
            check_manifest_url(url, &base(API_URL_VAR).unwrap_or_else(|| crate::api::DEFAULT_BASE_URL.to_string()))?;
        }
        Ok(AccountEnv { base, key_env: settings.api_key_env.clone(), api_url: settings.api_url.clone() })
    }

    /// A variable's value as this account sees it.
    pub fn get(&self, name: &str) -> Option<String> {
        match (name, &self.key_env, &self.api_url) {
            (API_KEY_VAR, Some(key_env), _) => (self.base)(key_env),
            (API_URL_VAR, _, Some(url)) => Some(url.clone()),
            _ => (self.base)(name),
        }
    }
}

/// A manifest may choose the API URL only on the host the environment already trusts (or on this
/// machine): manifests come from pull requests, and a URL on another host would receive the key.
fn check_manifest_url(url: &str, trusted: &str) -> Result<(), Error> {
    let host = |u: &str| reqwest::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let loopback = |h: &str| {
        h == "localhost"
            || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    };
    match host(url) {
        Some(h) if loopback(&h) || Some(&h) == host(trusted).as_ref() => Ok(()),
        Some(h) => Err(Error::new(
            ErrorKind::Refused,
            format!("settings.api_url names the host {h}, which would receive this account's key"),
        )
        .with_hint(format!(
            "a manifest may choose a URL on {} (the API host) or on this machine; for another host pass --api-url or set SKYLIGHT_API_URL",
            host(trusted).unwrap_or_default()
        ))),
        None => Err(Error::new(ErrorKind::Usage, "settings.api_url is not a URL")
            .with_hint(format!("it looks like {}", crate::api::DEFAULT_BASE_URL))),
    }
}

/// The manifest paths a command was given, or the current folder.
pub fn paths_or_here(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::check_manifest_url;

    #[test]
    fn a_manifest_chooses_an_api_url_only_on_the_trusted_host_or_loopback() {
        let trusted = "https://dashboard.skylightchat.com/api/v1";
        assert!(check_manifest_url("https://dashboard.skylightchat.com/api/v2", trusted).is_ok());
        assert!(check_manifest_url("https://DASHBOARD.skylightchat.com/x", trusted).is_ok());
        assert!(check_manifest_url("http://127.0.0.1:8787/api/v1", trusted).is_ok());
        assert!(check_manifest_url("http://[::1]:8787/api/v1", trusted).is_ok());
        assert!(check_manifest_url("http://localhost:8787/api/v1", trusted).is_ok());
        assert!(check_manifest_url("https://dashboard.skylightchat.com.evil.example/api/v1", trusted).is_err());
        assert!(check_manifest_url("https://evil.example/api/v1", trusted).is_err());
        assert!(check_manifest_url("not a url", trusted).is_err());
    }
}
