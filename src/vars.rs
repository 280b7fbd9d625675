//! The process environment as skyform reads it: where variables come from ([`Env`]), and the names of
//! skyform's own variables. A leaf: the manifest loader (which must never interpolate these) and the API
//! client (which reads them) both use it.

/// Where variables come from: the process environment ([`process_env`]), or a map in tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The account's API key ([doc] §1: one full-access key per account). Never a flag: flags land in shell
/// history and CI logs.
pub const API_KEY_VAR: &str = "SKYLIGHT_API_KEY";
/// The API base URL, when not the public one.
pub const API_URL_VAR: &str = "SKYLIGHT_API_URL";
