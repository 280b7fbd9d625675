//! Fault injection: rules that make the next N matching requests fail, stall or vanish.

use axum::http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

/// "The next `count` requests matching `method` + `path` ..." — JSON body of `POST /_sandbox/faults`:
/// `{"method":"PUT","path":"/api/v1/team/*","count":3,"status":503}`,
/// `{"method":"POST","path":"/api/v1/webhooks","drop":true}`, `{"path":"/api/v1/**","delay_ms":2000}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// An HTTP method, or `*` for any.
    #[serde(default = "any_method")]
    pub method: String,
    /// The full path; `*` matches one segment, a final `**` matches the rest.
    pub path: String,
    /// How many matching requests the rule applies to.
    #[serde(default = "one")]
    pub count: u32,
    /// Answer this status instead of executing the request (429 gets the documented body).
    #[serde(default)]
    pub status: Option<u16>,
    /// With status 429: the `retry_after` in the body.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// With status 429: also send a `Retry-After` header with this many seconds.
    #[serde(default)]
    pub retry_after_header: Option<u64>,
    /// Execute the request, then drop the connection before answering.
    #[serde(default)]
    pub drop: bool,
    /// Wait this long before answering (for client timeouts).
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

fn any_method() -> String {
    "*".into()
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// `count` matching requests answer `status`.
    pub fn status(method: &str, path: &str, status: u16, count: u32) -> Self {
        FaultRule { status: Some(status), ..FaultRule::base(method, path, count) }
    }

    /// `count` matching requests are executed and their connections dropped unanswered.
    pub fn drop_after_execute(method: &str, path: &str, count: u32) -> Self {
        FaultRule { drop: true, ..FaultRule::base(method, path, count) }
    }

    /// `count` matching requests wait `ms` before being handled.
    pub fn delay(method: &str, path: &str, ms: u64, count: u32) -> Self {
        FaultRule { delay_ms: Some(ms), ..FaultRule::base(method, path, count) }
    }

    fn base(method: &str, path: &str, count: u32) -> Self {
        FaultRule {
            method: method.into(),
            path: path.into(),
            count,
            status: None,
            retry_after: None,
            retry_after_header: None,
            drop: false,
            delay_ms: None,
        }
    }

    /// Refuses rules that cannot mean anything (no action, a success status, a relative path).
    pub fn validate(&self) -> Result<(), String> {
        if !self.path.starts_with('/') {
            return Err(format!("fault path `{}` must start with /", self.path));
        }
        if self.method != "*" && Method::from_bytes(self.method.as_bytes()).is_err() {
            return Err(format!("fault method `{}` is not an HTTP method", self.method));
        }
        if let Some(s) = self.status {
            if StatusCode::from_u16(s).is_err() || s < 400 {
                return Err(format!("fault status {s} must be an HTTP error status (400-599)"));
            }
        }
        if self.status.is_none() && !self.drop && self.delay_ms.is_none() {
            return Err("a fault needs at least one of `status`, `drop`, `delay_ms`".into());
        }
        if self.status.is_some() && self.drop {
            return Err("`status` answers without executing, `drop` executes without answering: pick one".into());
        }
        Ok(())
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method.as_str())) && path_matches(&self.path, path)
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.trim_end_matches('/').split('/');
    let mut segs = path.trim_end_matches('/').split('/');
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) => return true,
            (Some(p), Some(s)) if p == "*" || p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// What the rules say to do with one request.
#[derive(Debug, Default)]
pub struct Injection {
    pub status: Option<StatusCode>,
    pub retry_after: Option<u64>,
    pub retry_after_header: Option<u64>,
    pub drop: bool,
    pub delay_ms: u64,
}

/// The active rules and the added latency.
#[derive(Debug, Default, Serialize)]
pub struct Faults {
    pub latency_ms: u64,
    pub rules: Vec<FaultRule>,
}

impl Faults {
    pub fn add(&mut self, rule: FaultRule) -> Result<(), String> {
        rule.validate()?;
        if rule.count > 0 {
            self.rules.push(rule);
        }
        Ok(())
    }

    /// Consumes one use of the first rule matching this request.
    pub fn take(&mut self, method: &Method, path: &str) -> Injection {
        let Some(i) = self.rules.iter().position(|r| r.matches(method, path)) else {
            return Injection::default();
        };
        let rule = &mut self.rules[i];
        rule.count -= 1;
        let injection = Injection {
            status: rule.status.and_then(|s| StatusCode::from_u16(s).ok()),
            retry_after: rule.retry_after,
            retry_after_header: rule.retry_after_header,
            drop: rule.drop,
            delay_ms: rule.delay_ms.unwrap_or(0),
        };
        if rule.count == 0 {
            self.rules.remove(i);
        }
        injection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments() {
        assert!(path_matches("/api/v1/team/*", "/api/v1/team/3"));
        assert!(!path_matches("/api/v1/team/*", "/api/v1/team"));
        assert!(!path_matches("/api/v1/team/*", "/api/v1/team/3/x"));
        assert!(path_matches("/api/v1/**", "/api/v1/webhooks/1/test"));
        assert!(path_matches("/api/v1/webhooks", "/api/v1/webhooks/"));
    }

    #[test]
    fn rules_are_used_up_in_order() {
        let mut f = Faults::default();
        f.add(FaultRule::status("PUT", "/api/v1/team/*", 503, 2)).unwrap();
        assert!(f.take(&Method::GET, "/api/v1/team/1").status.is_none());
        assert_eq!(f.take(&Method::PUT, "/api/v1/team/1").status, Some(StatusCode::SERVICE_UNAVAILABLE));
        assert!(f.take(&Method::PUT, "/api/v1/team/1").status.is_some());
        assert!(f.take(&Method::PUT, "/api/v1/team/1").status.is_none());
        assert!(f.rules.is_empty());
    }

    #[test]
    fn nonsense_rules_are_refused() {
        let mut f = Faults::default();
        assert!(f.add(FaultRule::base("GET", "/x", 1)).is_err());
        assert!(f.add(FaultRule::status("GET", "x", 500, 1)).is_err());
        assert!(f.add(FaultRule::status("GET", "/x", 200, 1)).is_err());
    }
}
