//! The SkyLight envelope, error bodies, Laravel-style validation and pagination, as the sandbox serves them.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// A successful answer: `{"success":true,"data":...,"message":...}` plus `meta` for paginated lists.
pub struct Reply {
    status: StatusCode,
    data: Value,
    message: String,
    meta: Option<Value>,
}

impl Reply {
    pub fn ok(data: Value, message: impl Into<String>) -> Self {
        Reply { status: StatusCode::OK, data, message: message.into(), meta: None }
    }

    pub fn created(data: Value, message: impl Into<String>) -> Self {
        Reply { status: StatusCode::CREATED, data, message: message.into(), meta: None }
    }

    /// 200 with a message and no `data` (`PATCH /account`, [doc]).
    pub fn message(message: impl Into<String>) -> Self {
        Reply { status: StatusCode::OK, data: Value::Null, message: message.into(), meta: None }
    }

    /// 204 with an empty body, as the API answers deletes.
    pub fn deleted() -> Self {
        Reply { status: StatusCode::NO_CONTENT, data: Value::Null, message: String::new(), meta: None }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NO_CONTENT {
            return StatusCode::NO_CONTENT.into_response();
        }
        let mut body = json!({"success": true, "data": self.data, "message": self.message});
        if self.data.is_null() {
            body.as_object_mut().expect("an object literal").remove("data");
        }
        if let Some(meta) = self.meta {
            body["meta"] = meta;
        }
        json_response(self.status, &body)
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// Every error the API answers, with the documented bodies.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthenticated,
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed(String),
    Validation(Errors),
    TooManyRequests {
        retry_after: u64,
    },
    PayloadTooLarge,
    /// Injected by a fault rule: any status, with a plausible body.
    Injected {
        status: StatusCode,
        retry_after: Option<u64>,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Injected { status, .. } => *status,
        }
    }

    /// A single-field validation error, the shape of most business-rule refusals.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = Errors::default();
        e.add(field, message);
        ApiError::Validation(e)
    }

    pub fn body(&self) -> Value {
        let fail = |m: &str| json!({"success": false, "message": m});
        match self {
            ApiError::BadRequest(m) | ApiError::Forbidden(m) | ApiError::NotFound(m) => fail(m),
            ApiError::MethodNotAllowed(m) => fail(m),
            ApiError::Unauthenticated => fail("Unauthenticated. Please provide a valid API key."),
            ApiError::Validation(e) => {
                json!({"success": false, "message": e.summary(), "errors": e.to_json()})
            }
            ApiError::TooManyRequests { retry_after } => json!({
                "success": false, "message": "Too many requests. Please slow down.", "retry_after": retry_after
            }),
            ApiError::PayloadTooLarge => fail("The request body is too large."),
            ApiError::Injected { status, retry_after } => {
                if *status == StatusCode::TOO_MANY_REQUESTS {
                    return ApiError::TooManyRequests { retry_after: retry_after.unwrap_or(1) }.body();
                }
                let reason = status.canonical_reason().unwrap_or("Error");
                fail(&format!("{reason} (injected by the sandbox)"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status(), &self.body())
    }
}

/// Laravel's `errors` object: field → messages, in the order they were found.
#[derive(Debug, Default)]
pub struct Errors(Vec<(String, Vec<String>)>);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, list)) => list.push(message),
            None => self.0.push((field.to_string(), vec![message])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    /// Laravel's top-level message: the first error, and how many more there are.
    fn summary(&self) -> String {
        let total: usize = self.0.iter().map(|(_, l)| l.len()).sum();
        let first = self.0.first().and_then(|(_, l)| l.first()).cloned().unwrap_or_default();
        match total {
            0 | 1 => first,
            2 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {} more errors)", n - 1),
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (f, l) in &self.0 {
            m.insert(f.clone(), json!(l));
        }
        Value::Object(m)
    }

    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self))
        }
    }
}

/// Parses a request body: empty means `{}`; anything but a JSON object is a 400.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::BadRequest("The request body must be a JSON object.".into())),
        Err(e) => Err(ApiError::BadRequest(format!("Malformed JSON body: {e}."))),
    }
}

/// Parses a path id; anything that is not an id names no object, so it is a 404.
pub fn parse_id(raw: &str, not_found: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(not_found.to_string()))
}

/// Laravel spells attributes with spaces in its messages: `system_prompt` → "system prompt".
fn attr(field: &str) -> String {
    field.replace('_', " ")
}

/// Laravel's presence rules: `required`, `sometimes|required` (updates), `nullable`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Sometimes,
    Nullable,
}

/// A present-or-absent field of an update: absent leaves the stored value alone.
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

/// Laravel-style validation of one request body, collecting every error before answering.
pub struct Check<'a> {
    body: &'a Map<String, Value>,
    pub errors: Errors,
}

impl<'a> Check<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Check { body, errors: Errors::default() }
    }

    pub fn present(&self, field: &str) -> bool {
        self.body.contains_key(field)
    }

    fn get(&self, field: &str) -> Field<&'a Value> {
        match self.body.get(field) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Value(v),
        }
    }

    /// A string field under one of Laravel's presence rules. Like Laravel's
    /// `ConvertEmptyStringsToNull`, an empty string counts as null.
    pub fn string(&mut self, field: &str, rule: Presence, max: usize) -> Field<String> {
        let value = match self.get(field) {
            Field::Value(Value::String(s)) if s.is_empty() => Field::Null,
            other => other,
        };
        match (value, rule) {
            (Field::Absent, Presence::Required) | (Field::Null, Presence::Required | Presence::Sometimes) => {
                self.errors.add(field, format!("The {} field is required.", attr(field)));
                Field::Absent
            }
            (Field::Absent, _) => Field::Absent,
            (Field::Null, _) => Field::Null,
            (Field::Value(Value::String(s)), _) => {
                if s.chars().count() > max {
                    self.errors
                        .add(field, format!("The {} field must not be greater than {max} characters.", attr(field)));
                    Field::Absent
                } else {
                    Field::Value(s.clone())
                }
            }
            (Field::Value(_), _) => {
                self.errors.add(field, format!("The {} field must be a string.", attr(field)));
                Field::Absent
            }
        }
    }

    /// A string that must be present on create (or, with `Sometimes`, non-empty when present).
    pub fn text(&mut self, field: &str, rule: Presence, max: usize) -> Option<String> {
        match self.string(field, rule, max) {
            Field::Value(s) => Some(s),
            _ => None,
        }
    }

    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.get(field) {
            Field::Absent => None,
            Field::Value(Value::Bool(b)) => Some(*b),
            _ => {
                self.errors.add(field, format!("The {} field must be true or false.", attr(field)));
                None
            }
        }
    }

    /// A string restricted to `allowed`.
    pub fn one_of(&mut self, field: &str, rule: Presence, allowed: &[&str]) -> Option<String> {
        match self.string(field, rule, 255) {
            Field::Value(s) if allowed.contains(&s.as_str()) => Some(s),
            Field::Value(_) => {
                self.errors.add(field, format!("The selected {} is invalid.", attr(field)));
                None
            }
            _ => None,
        }
    }

    pub fn integer(&mut self, field: &str, required: bool) -> Option<u64> {
        match self.get(field) {
            Field::Absent | Field::Null if required => {
                self.errors.add(field, format!("The {} field is required.", attr(field)));
                None
            }
            Field::Absent | Field::Null => None,
            Field::Value(v) => match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    self.errors.add(field, format!("The {} field must be an integer.", attr(field)));
                    None
                }
            },
        }
    }

    /// An array of integers (ids); `None` when absent or invalid.
    pub fn id_array(&mut self, field: &str) -> Option<Vec<u64>> {
        match self.get(field) {
            Field::Absent | Field::Null => None,
            Field::Value(Value::Array(items)) => {
                let ids: Option<Vec<u64>> = items.iter().map(Value::as_u64).collect();
                if ids.is_none() {
                    self.errors.add(field, format!("The {} field must contain only integers.", attr(field)));
                }
                ids
            }
            Field::Value(_) => {
                self.errors.add(field, format!("The {} field must be an array.", attr(field)));
                None
            }
        }
    }

    /// An array of strings; `required` refuses absent, null and empty arrays.
    pub fn string_array(&mut self, field: &str, required: bool) -> Option<Vec<String>> {
        match self.get(field) {
            Field::Absent | Field::Null if required => {
                self.errors.add(field, format!("The {} field is required.", attr(field)));
                None
            }
            Field::Absent | Field::Null => None,
            Field::Value(Value::Array(items)) => {
                if items.is_empty() && required {
                    self.errors.add(field, format!("The {} field is required.", attr(field)));
                    return None;
                }
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => {
                            self.errors.add(&format!("{field}.{i}"), format!("The {field}.{i} field must be a string."))
                        }
                    }
                }
                Some(out)
            }
            Field::Value(_) => {
                self.errors.add(field, format!("The {} field must be an array.", attr(field)));
                None
            }
        }
    }

    /// An `https://` URL with a host.
    pub fn https_url(&mut self, field: &str, rule: Presence) -> Option<String> {
        let url = match self.string(field, rule, 2048) {
            Field::Value(u) => u,
            _ => return None,
        };
        let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
            self.errors.add(field, format!("The {} field must be a valid URL.", attr(field)));
            return None;
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty() || host.contains(char::is_whitespace) {
            self.errors.add(field, format!("The {} field must be a valid URL.", attr(field)));
            return None;
        }
        if !url.starts_with("https://") {
            self.errors.add(field, format!("The {} must use HTTPS.", attr(field)));
            return None;
        }
        Some(url)
    }

    pub fn raw(&self, field: &str) -> Option<&'a Value> {
        self.body.get(field)
    }

    pub fn done(self) -> Result<(), ApiError> {
        self.errors.into_result()
    }
}

/// `page` and `per_page`, as Laravel reads them: anything unparsable falls back to the default.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: usize,
    pub per_page: usize,
}

impl Page {
    pub fn from_query(query: &std::collections::HashMap<String, String>, default: usize, max: usize) -> Self {
        let read = |k: &str| query.get(k).and_then(|v| v.trim().parse::<usize>().ok()).filter(|n| *n > 0);
        let per_page = read("per_page").unwrap_or(default).min(max).max(1);
        Page { page: read("page").unwrap_or(1), per_page }
    }
}

/// Cuts one page out of a full list and answers it with `meta`.
pub fn paginated(items: Vec<Value>, page: Page, message: &str) -> Reply {
    let total = items.len();
    let last_page = total.div_ceil(page.per_page).max(1);
    let data: Vec<Value> =
        items.into_iter().skip((page.page - 1).saturating_mul(page.per_page)).take(page.per_page).collect();
    Reply {
        status: StatusCode::OK,
        data: Value::Array(data),
        message: message.to_string(),
        meta: Some(json!({
            "current_page": page.page, "last_page": last_page, "per_page": page.per_page, "total": total
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laravel_summary_counts_the_rest() {
        let mut e = Errors::default();
        e.add("name", "The name field is required.");
        e.add("system_prompt", "The system prompt field is required.");
        e.add("name", "again");
        assert_eq!(e.summary(), "The name field is required. (and 2 more errors)");
    }

    #[test]
    fn pages_are_cut_and_counted() {
        let items: Vec<Value> = (0..250).map(|i| json!(i)).collect();
        let q =
            [("per_page".to_string(), "100".to_string()), ("page".to_string(), "3".to_string())].into_iter().collect();
        let r = paginated(items, Page::from_query(&q, 15, 100), "ok");
        assert_eq!(r.data.as_array().unwrap().len(), 50);
        assert_eq!(r.meta.unwrap()["last_page"], 3);
    }
}
