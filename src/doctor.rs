//! `skyform doctor`: read-only probes of what skyform assumes about the API, before it first writes to an
//! account. The public reference is incomplete; every fact below is one the client relies on, marked
//! `[doc]` or `[assumed]` in `docs/skylight-api.md` and in the sandbox's kind files. Each probe is a
//! GET (at most 22 in all), each fact gets a verdict, and a fact that differs names the files to change.

use crate::api::{ApiError, Probe, ProbeAuth, ReadClient};
use crate::resources::{Kind, Resource};
use serde::Serialize;
use serde_json::Value;

/// How a fact held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// As the contract says.
    Ok,
    /// Not as the contract says, but skyform copes (it learns the value, or only costs requests).
    Note,
    /// Something skyform relies on does not hold: plans or applies against this account may be wrong.
    Fails,
    /// The account has nothing to check it with (no knowledge entry, no campaign).
    Unchecked,
}

/// One checked fact.
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    /// Stable id, e.g. `list.knowledge-base.items`.
    pub id: String,
    /// What is assumed, in words.
    pub fact: String,
    pub expected: String,
    pub seen: String,
    pub verdict: Verdict,
    /// Where the assumption lives, to change when it does not hold (client and sandbox side).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<&'static str>,
}

/// Every fact, and what the probes cost.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub api_url: String,
    pub facts: Vec<Fact>,
    /// GET requests sent.
    pub requests: u64,
}

impl Report {
    /// Whether everything skyform relies on holds (no `fails`).
    pub fn holds(&self) -> bool {
        self.facts.iter().all(|f| f.verdict != Verdict::Fails)
    }

    /// 0 when everything skyform relies on holds, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.holds() {
            0
        } else {
            1
        }
    }

    /// A table for a person: fact, expected, seen, verdict; then what to change for each fact that differs.
    /// Values from the server have their control characters escaped.
    pub fn render(&self) -> String {
        let esc = |s: &str| crate::redact::escape_controls(s).into_owned();
        let rows: Vec<[String; 4]> = self
            .facts
            .iter()
            .map(|f| [esc(&f.fact), esc(&f.expected), esc(&f.seen), verdict_word(f.verdict).to_string()])
            .collect();
        let header = ["fact", "expected", "seen", "verdict"].map(String::from);
        let width = |i: usize| {
            rows.iter().chain(std::iter::once(&header)).map(|r| r[i].chars().count().min(60)).max().unwrap_or(0)
        };
        let widths = [width(0), width(1), width(2), width(3)];
        let cell = |s: &str, w: usize| {
            let s: String = if s.chars().count() > 60 {
                format!("{}…", s.chars().take(59).collect::<String>())
            } else {
                s.to_string()
            };
            format!("{s:<w$}")
        };
        let mut out = format!("skyform doctor: {}\n\n", crate::redact::url_for_display(&self.api_url));
        for r in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = r.iter().zip(widths).map(|(s, w)| cell(s, w)).collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        let differs: Vec<&Fact> =
            self.facts.iter().filter(|f| matches!(f.verdict, Verdict::Fails | Verdict::Note)).collect();
        if !differs.is_empty() {
            out.push('\n');
            for f in differs {
                out.push_str(&format!("{} {}: {}\n", verdict_word(f.verdict), f.id, esc(&f.seen)));
                if !f.files.is_empty() {
                    out.push_str(&format!("    change: {}\n", f.files.join(", ")));
                }
            }
        }
        let count = |v: Verdict| self.facts.iter().filter(|f| f.verdict == v).count();
        out.push_str(&format!(
            "\n{} facts: {} ok, {} differ harmlessly, {} fail, {} unchecked; {} GET requests.\n",
            self.facts.len(),
            count(Verdict::Ok),
            count(Verdict::Note),
            count(Verdict::Fails),
            count(Verdict::Unchecked),
            self.requests
        ));
        out.push_str(if self.holds() && count(Verdict::Unchecked) > 0 {
            "Nothing skyform relies on fails here; the unchecked facts need objects this account does not have yet (check again once it has some).\n"
        } else if self.holds() {
            "Everything skyform relies on holds for this account.\n"
        } else {
            "Something skyform relies on does not hold: fix the files named above (or tell the skyform maintainers) before applying to this account.\n"
        });
        out
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Note => "differs",
        Verdict::Fails => "FAILS",
        Verdict::Unchecked => "unchecked",
    }
}

/// A list the client reads, and what the contract says of it.
struct ListSpec {
    path: &'static str,
    /// `Some(default per_page)` when the contract says it is paginated.
    paginated: Option<u64>,
    /// Parses one item as the client does; the error is serde's.
    parse: fn(&Value) -> Result<(), String>,
    /// A field the list leaves out, so the plan reads each object singly ([assumed]).
    detail_field: Option<&'static str>,
    files: &'static [&'static str],
    /// One object per account (`GET` answers the object, not a list).
    singleton: bool,
}

fn parse_as<T: serde::de::DeserializeOwned>(v: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(v.clone()).map(|_| ()).map_err(|e| e.to_string())
}

fn live<R: Resource>(v: &Value) -> Result<(), String> {
    parse_as::<R::Live>(v)
}

fn both_list(v: &Value) -> Result<(), String> {
    parse_as::<crate::resources::contact_list::LiveAudience>(v)?;
    parse_as::<crate::resources::lookup::ContactList>(v)
}

fn both_tag(v: &Value) -> Result<(), String> {
    parse_as::<crate::resources::tag::LiveTag>(v)?;
    parse_as::<crate::resources::lookup::Tag>(v)
}

/// Every list the client reads: each kind of the registry (its facts are the kind's `Resource` consts, so
/// a new kind is probed without a line here), then the lookups.
fn lists() -> Vec<ListSpec> {
    use crate::resources::lookup::Channel;
    const LOOKUP: &[&str] = &["src/resources/lookup.rs", "src/sandbox/account.rs"];
    let mut out: Vec<ListSpec> = Kind::ALL
        .iter()
        .map(|&k| {
            with_kind!(k, S => {
                type R = <S as crate::resources::Managed>::R;
                ListSpec {
                    path: R::PATH,
                    paginated: R::PAGE_SIZE,
                    parse: live::<R>,
                    detail_field: R::DETAIL_FIELD,
                    files: R::FILES,
                    singleton: R::SINGLETON,
                }
            })
        })
        .collect();
    out.push(ListSpec {
        path: "/account/channels",
        paginated: None,
        parse: parse_as::<Channel>,
        detail_field: None,
        files: LOOKUP,
        singleton: false,
    });
    // Lists, segments and tags are kinds and lookups (campaign audiences, the lease): both must parse.
    for s in out.iter_mut() {
        match s.path {
            "/contacts/lists" | "/contacts/segments" => s.parse = both_list,
            "/tags" => s.parse = both_tag,
            _ => {}
        }
    }
    out
}

struct Facts(Vec<Fact>);

impl Facts {
    fn add(
        &mut self,
        id: impl Into<String>,
        fact: &str,
        expected: impl Into<String>,
        seen: impl Into<String>,
        verdict: Verdict,
        files: &[&'static str],
    ) {
        let files = if verdict == Verdict::Ok || verdict == Verdict::Unchecked { Vec::new() } else { files.to_vec() };
        self.0.push(Fact {
            id: id.into(),
            fact: fact.into(),
            expected: expected.into(),
            seen: seen.into(),
            verdict,
            files,
        });
    }
}

/// `success`, `data` and `message` around the answer ([doc] §1).
fn enveloped(p: &Probe) -> bool {
    p.body.get("success") == Some(&Value::Bool(true)) && p.body.get("data").is_some()
}

fn items(p: &Probe) -> Option<&Vec<Value>> {
    p.body.get("data")?.as_array()
}

fn per_page(p: &Probe) -> Option<u64> {
    p.body.get("meta")?.get("per_page")?.as_u64()
}

/// Every `*_at` string of `items`, and the first that is not RFC 3339 (ISO 8601 with `Z` or an offset).
fn timestamps(items: &[Value]) -> (usize, Option<String>) {
    let mut n = 0;
    for item in items {
        if let Value::Object(o) = item {
            for (k, v) in o {
                if let (true, Some(s)) = (k.ends_with("_at"), v.as_str()) {
                    n += 1;
                    if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_err() {
                        return (n, Some(format!("{k}: {s}")));
                    }
                }
            }
        }
    }
    (n, None)
}

/// Runs every probe. Errors only when the API cannot be reached at all.
pub async fn run(client: &ReadClient, api_url: &str) -> Result<Report, ApiError> {
    let api_url = &crate::redact::url_for_display(api_url);
    let mut facts = Facts(Vec::new());
    let contract = "docs/skylight-api.md";

    // Auth and the envelope (§1), rate-limit headers (§2).
    let account = client.probe("/account", &[], ProbeAuth::ApiKeyHeader).await?;
    let ok = account.status == 200;
    facts.add(
        "auth.x-api-key",
        "X-Api-Key authenticates",
        "200",
        account.status.to_string(),
        if ok { Verdict::Ok } else { Verdict::Fails },
        &["src/api/transport.rs", contract],
    );
    if !ok {
        // Nothing else can be probed without a working key.
        return Ok(Report { api_url: api_url.to_string(), facts: facts.0, requests: client.stats().requests });
    }
    let env_ok = enveloped(&account) && account.body.get("message").is_some();
    facts.add(
        "envelope",
        "answers are {success, data, message}",
        "success: true, data, message",
        if env_ok { "as expected".to_string() } else { keys(&account.body) },
        if env_ok { Verdict::Ok } else { Verdict::Fails },
        &["src/api/transport.rs", contract],
    );
    let bearer = client.probe("/account", &[], ProbeAuth::Bearer).await?;
    facts.add(
        "auth.bearer",
        "Authorization: Bearer authenticates too",
        "200",
        bearer.status.to_string(),
        if bearer.status == 200 { Verdict::Ok } else { Verdict::Note },
        &[contract],
    );
    let anonymous = client.probe("/account", &[], ProbeAuth::None).await?;
    let msg = anonymous.body.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    facts.add(
        "auth.unauthenticated",
        "no key is a 401 with a message",
        "401",
        format!("{} {}", anonymous.status, crate::redact::untrusted(&msg, 80)),
        if anonymous.status == 401 { Verdict::Ok } else { Verdict::Note },
        &["src/api/error.rs", contract],
    );
    let r = account.rate;
    facts.add(
        "rate.limit",
        "X-RateLimit-Limit is sent",
        "120",
        r.limit.map_or("absent".into(), |l| l.to_string()),
        match r.limit {
            Some(120) => Verdict::Ok,
            Some(_) => Verdict::Note,
            None => Verdict::Note,
        },
        &["src/api/pacer.rs", contract],
    );
    let both = r.remaining.is_some() && r.reset.is_some();
    facts.add(
        "rate.remaining-reset",
        "X-RateLimit-Remaining and -Reset are sent",
        "both",
        format!(
            "remaining {}, reset {}",
            r.remaining.map_or("absent".into(), |v| v.to_string()),
            r.reset.map_or("absent".into(), |v| v.to_string())
        ),
        if both { Verdict::Ok } else { Verdict::Note },
        &["src/api/pacer.rs"],
    );

    // Every list the client reads: paginated or whole, page cap, default size, item shape, timestamps.
    let lists = lists();
    let mut first_ids: Vec<(&'static str, u64)> = Vec::new();
    for spec in &lists {
        let name = spec.path.trim_start_matches('/').replace('/', "-");
        if spec.singleton {
            let one = client.probe(spec.path, &[], ProbeAuth::ApiKeyHeader).await?;
            let data = one.body.get("data").cloned().unwrap_or(Value::Null);
            let parsed = if data.is_object() {
                (spec.parse)(&data)
            } else {
                Err(format!("{} ({})", one.status, keys(&one.body)))
            };
            facts.add(
                format!("{name}.object"),
                &format!("GET {} answers one object skyform reads", spec.path),
                "parses",
                parsed.clone().err().map_or("parses".to_string(), |e| format!("does not parse: {e}")),
                if parsed.is_ok() { Verdict::Ok } else { Verdict::Fails },
                spec.files,
            );
            continue;
        }
        let full = client.probe(spec.path, &[("per_page", "100".into())], ProbeAuth::ApiKeyHeader).await?;
        if full.status != 200 || !enveloped(&full) {
            facts.add(
                format!("list.{name}"),
                &format!("GET {} answers a list", spec.path),
                "200 with data",
                format!("{} ({})", full.status, keys(&full.body)),
                Verdict::Fails,
                spec.files,
            );
            continue;
        }
        let has_meta = full.body.get("meta").is_some();
        let expected = match spec.paginated {
            Some(_) => "paginated (meta)",
            None => "the whole list (no meta)",
        };
        let seen = if has_meta { "paginated (meta)" } else { "the whole list (no meta)" };
        // The client follows `meta` when it is there and takes an answer without it as the whole list: a
        // difference costs nothing.
        facts.add(
            format!("list.{name}.pagination"),
            &format!("GET {} is paginated as documented", spec.path),
            expected,
            seen,
            if expected == seen { Verdict::Ok } else { Verdict::Note },
            spec.files,
        );
        if has_meta {
            let cap = per_page(&full);
            facts.add(
                format!("list.{name}.page-cap"),
                &format!("GET {} serves per_page=100", spec.path),
                "100",
                cap.map_or("no meta.per_page".into(), |c| c.to_string()),
                match cap {
                    Some(100) => Verdict::Ok,
                    Some(c) if c > 0 => Verdict::Note,
                    _ => Verdict::Fails,
                },
                spec.files,
            );
            let plain = client.probe(spec.path, &[], ProbeAuth::ApiKeyHeader).await?;
            let default = per_page(&plain);
            let want = spec.paginated.map_or("—".to_string(), |d| d.to_string());
            facts.add(
                format!("list.{name}.default-size"),
                &format!("GET {} default page size", spec.path),
                want.clone(),
                default.map_or("no meta.per_page".into(), |d| d.to_string()),
                if default.map(|d| d.to_string()) == Some(want) { Verdict::Ok } else { Verdict::Note },
                spec.files,
            );
        }
        let list = items(&full);
        let Some(list) = list else {
            facts.add(
                format!("list.{name}.items"),
                &format!("GET {} data is an array", spec.path),
                "an array",
                keys(&full.body),
                Verdict::Fails,
                spec.files,
            );
            continue;
        };
        match list.first() {
            None => facts.add(
                format!("list.{name}.items"),
                &format!("GET {} items have the fields skyform reads", spec.path),
                "parses",
                "the list is empty",
                Verdict::Unchecked,
                spec.files,
            ),
            Some(_) => {
                let bad = list.iter().find_map(|i| (spec.parse)(i).err());
                facts.add(
                    format!("list.{name}.items"),
                    &format!("GET {} items have the fields skyform reads", spec.path),
                    "parses",
                    bad.clone().map_or(format!("{} items parse", list.len()), |e| format!("does not parse: {e}")),
                    if bad.is_none() { Verdict::Ok } else { Verdict::Fails },
                    spec.files,
                );
            }
        }
        let (n, bad) = timestamps(list);
        if n > 0 {
            facts.add(
                format!("list.{name}.timestamps"),
                &format!("GET {} timestamps are ISO 8601", spec.path),
                "RFC 3339 (Z or an offset)",
                bad.clone().unwrap_or_else(|| format!("{n} parse")),
                if bad.is_none() { Verdict::Ok } else { Verdict::Fails },
                &["src/resources/lenient.rs", contract],
            );
        }
        if let Some(field) = spec.detail_field {
            let in_list = list.iter().any(|i| i.get(field).is_some());
            facts.add(
                format!("list.{name}.detail"),
                &format!("GET {} items lack `{field}` (read singly)", spec.path),
                "lacks it",
                if list.is_empty() {
                    "the list is empty".into()
                } else if in_list {
                    "has it".to_string()
                } else {
                    "lacks it".into()
                },
                if list.is_empty() {
                    Verdict::Unchecked
                } else if in_list {
                    Verdict::Note
                } else {
                    Verdict::Ok
                },
                spec.files,
            );
            // A text entry where the list has kinds of entry: uploaded documents have no body to read.
            let sample = list.iter().find(|i| i.get("type").is_none_or(|t| t == "text")).or(list.first());
            if let Some(id) = sample.and_then(|i| i.get("id")).and_then(Value::as_u64) {
                first_ids.push((spec.path, id));
            }
        }
    }

    // The single GETs the plan makes where the list lacks a field.
    for (path, id) in first_ids {
        let spec = lists.iter().find(|s| s.path == path).expect("from the table");
        let field = spec.detail_field.expect("only lists with a detail field");
        let one = client.probe(&format!("{path}/{id}"), &[], ProbeAuth::ApiKeyHeader).await?;
        let data = one.body.get("data").cloned().unwrap_or(Value::Null);
        let parses = (spec.parse)(&data);
        let has = data.get(field).is_some();
        let name = path.trim_start_matches('/');
        let verdict = if one.status == 200 && parses.is_ok() && has { Verdict::Ok } else { Verdict::Fails };
        let seen = match (&parses, has) {
            _ if one.status != 200 => format!("{}", one.status),
            (Err(e), _) => format!("does not parse: {e}"),
            (Ok(()), false) => format!("no `{field}`"),
            (Ok(()), true) => format!("has `{field}`"),
        };
        facts.add(
            format!("detail.{name}"),
            &format!("GET {path}/{{id}} has `{field}`"),
            format!("has `{field}`"),
            seen,
            verdict,
            spec.files,
        );
    }

    // The webhook event catalogue (names [assumed]).
    let events = client.probe("/webhooks/events", &[], ProbeAuth::ApiKeyHeader).await?;
    match items(&events)
        .map(|l| l.iter().map(parse_as::<crate::resources::lookup::WebhookEvent>).collect::<Result<Vec<_>, _>>())
    {
        Some(Ok(_)) => {
            let names: Vec<&str> =
                items(&events).into_iter().flatten().filter_map(|e| e.get("name")?.as_str()).collect();
            facts.add(
                "events.shape",
                "GET /webhooks/events lists {name, ...}",
                "a list",
                format!("{} events", names.len()),
                Verdict::Ok,
                &[],
            );
            let known = crate::resources::webhook::EVENTS;
            let missing: Vec<&str> = known.iter().copied().filter(|e| !names.contains(e)).collect();
            let extra = names.iter().filter(|n| !known.contains(n)).count();
            let seen = if missing.is_empty() && extra == 0 {
                "the same 30".to_string()
            } else {
                format!(
                    "{} of ours missing{}{}; {extra} more",
                    missing.len(),
                    if missing.is_empty() { "" } else { ": " },
                    missing.join(", ")
                )
            };
            // Plan checks names against the account's catalogue; offline validation only warns.
            facts.add(
                "events.names",
                "our 30 event names are the account's",
                "the same 30",
                seen,
                if missing.is_empty() && extra == 0 { Verdict::Ok } else { Verdict::Note },
                &["src/resources/webhook.rs", "src/sandbox/webhooks.rs"],
            );
        }
        Some(Err(e)) => facts.add(
            "events.shape",
            "GET /webhooks/events lists {name, ...}",
            "a list",
            format!("does not parse: {e}"),
            Verdict::Fails,
            &["src/resources/lookup.rs", "src/sandbox/webhooks.rs"],
        ),
        None => facts.add(
            "events.shape",
            "GET /webhooks/events lists {name, ...}",
            "a list",
            format!("{} ({})", events.status, keys(&events.body)),
            Verdict::Fails,
            &["src/resources/lookup.rs", "src/sandbox/webhooks.rs"],
        ),
    }
    Ok(Report { api_url: api_url.to_string(), facts: facts.0, requests: client.stats().requests })
}

/// The top-level keys of an answer, to say what came instead (never values: they could be anything).
fn keys(v: &Value) -> String {
    match v {
        Value::Object(o) => format!(
            "keys: {}",
            o.keys().take(8).map(|k| crate::redact::untrusted(k, 40)).collect::<Vec<_>>().join(", ")
        ),
        Value::Null => "not JSON".into(),
        other => format!(
            "a JSON {}",
            match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "value",
            }
        ),
    }
}
