//! Knowledge base — `/knowledge-base`.
//!
//! [doc] types `text`, `document`, `voice`, `product_catalog`, `website`; all processed synchronously except
//! `website`, an asynchronous crawl with a `/status` sub-resource.
//! [assumed] list paginated (default 15, max 100) without bodies; single GET adds the body of the type;
//! create needs `title` (≤ 255) and `type` plus the type's body (`content` for text, an https `url` for
//! website, `products` for catalogs, which may be empty); a body field of another type is refused;
//! `document`/`voice` need a multipart upload, so a JSON create of them is a 422; `type` is immutable;
//! writing a body re-embeds (`embedding_updated_at` moves; a website goes `processing` until its crawl ends).

use super::clock::Timestamp;
use super::http::{paginated, parse_id, parse_object, ApiError, Check, Field, Page, Presence, Reply};
use super::store::Record;
use super::{App, View};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Number, Value};
use std::collections::HashMap;

const NOT_FOUND: &str = "Knowledge base entry not found.";
pub const TYPES: &[&str] = &["text", "document", "voice", "product_catalog", "website"];
const BODY_FIELDS: &[&str] = &["content", "url", "products"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeEntry {
    #[serde(default)]
    pub id: u64,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub business_description: Option<String>,
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub embedding_updated_at: Option<Timestamp>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub products: Option<Vec<Product>>,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub pages_crawled: u64,
    /// A website crawl in progress ends at this time.
    #[serde(default)]
    pub processing_until: Option<Timestamp>,
    #[serde(default)]
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    #[serde(default)]
    pub price: Option<Number>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
}

fn active() -> String {
    "active".into()
}

impl Record for KnowledgeEntry {
    fn routes() -> axum::Router<super::App> {
        routes()
    }
    const KIND: &'static str = "knowledge_base";
    fn id(&self) -> u64 {
        self.id
    }
    fn set_id(&mut self, id: u64) {
        self.id = id;
    }
    fn fill_defaults(&mut self, now: Timestamp) {
        if self.created_at == Timestamp::default() {
            self.created_at = now;
        }
        if self.updated_at == Timestamp::default() {
            self.updated_at = self.created_at;
        }
        if self.embedding_updated_at.is_none() && self.status == "active" {
            self.embedding_updated_at = Some(self.updated_at);
        }
    }

    /// Website crawls finish when their time has come.
    fn before_request(entries: &mut [Self], now: Timestamp) {
        settle(entries, now);
    }
}

impl KnowledgeEntry {
    fn list_json(&self, v: View) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "type": self.kind,
            "description": self.description,
            "business_description": self.business_description,
            "status": self.status,
            "embedding_updated_at": v.opt_ts(self.embedding_updated_at),
            "created_at": v.ts(self.created_at),
            "updated_at": v.ts(self.updated_at),
        })
    }

    fn full_json(&self, v: View) -> Value {
        let mut o = self.list_json(v);
        match self.kind.as_str() {
            "text" => o["content"] = json!(self.content.clone().unwrap_or_default()),
            "website" => o["url"] = json!(self.url),
            "product_catalog" => o["products"] = products_json(self.products.as_deref().unwrap_or_default()),
            _ => {
                o["file_name"] = json!(self.file_name);
                o["file_size"] = json!(self.file_size);
            }
        }
        o
    }

    /// Writing a body re-embeds it: at once for every type but `website`, whose crawl takes a while.
    fn reembed(&mut self, now: Timestamp, crawl_delay_ms: u64) {
        if self.kind == "website" {
            self.status = "processing".into();
            self.pages_crawled = 0;
            self.processing_until = Some(now.plus_millis(crawl_delay_ms));
            settle(std::slice::from_mut(self), now);
        } else {
            self.status = "active".into();
            self.embedding_updated_at = Some(now);
        }
    }
}

fn products_json(products: &[Product]) -> Value {
    json!(products
        .iter()
        .map(|p| json!({"name": p.name, "price": p.price, "description": p.description, "sku": p.sku}))
        .collect::<Vec<_>>())
}

/// Finishes the crawls whose time has come. Called before every request, so no timer is needed.
pub fn settle(entries: &mut [KnowledgeEntry], now: Timestamp) {
    for e in entries.iter_mut() {
        if let Some(until) = e.processing_until.filter(|u| *u <= now) {
            e.status = "active".into();
            e.embedding_updated_at = Some(until);
            // A stable, plausible page count for the demo: longer sites, more pages.
            e.pages_crawled = 1 + e.url.as_ref().map_or(0, |u| u.len() as u64 % 24);
            e.processing_until = None;
        }
    }
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/knowledge-base", get(list).post(create))
        .route("/api/v1/knowledge-base/{id}", get(show).put(update).delete(destroy))
        .route("/api/v1/knowledge-base/{id}/status", get(status))
}

async fn list(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Reply {
    let store = app.store();
    let items = store.knowledge_base.iter().map(|e| e.list_json(app.view())).collect();
    paginated(items, Page::from_query(&q, 15, app.max_per_page()), "Knowledge base entries retrieved successfully.")
}

fn find(entries: &[KnowledgeEntry], raw_id: &str) -> Result<usize, ApiError> {
    let id = parse_id(raw_id, NOT_FOUND)?;
    entries.iter().position(|e| e.id == id).ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let store = app.store();
    let i = find(&store.knowledge_base, &id)?;
    Ok(Reply::ok(store.knowledge_base[i].full_json(app.view()), "Knowledge base entry retrieved successfully."))
}

async fn status(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let store = app.store();
    let e = &store.knowledge_base[find(&store.knowledge_base, &id)?];
    Ok(Reply::ok(json!({"status": e.status, "pages_crawled": e.pages_crawled}), "Status retrieved successfully."))
}

/// The body a request writes, checked against the entry's type.
enum Body {
    None,
    Content(String),
    Url(String),
    Products(Vec<Product>),
}

fn read_body(c: &mut Check, kind: &str, creating: bool) -> Body {
    let presence = if creating { Presence::Required } else { Presence::Sometimes };
    let own = match kind {
        "text" => "content",
        "website" => "url",
        "product_catalog" => "products",
        _ => "",
    };
    let foreign: Vec<&str> = BODY_FIELDS.iter().copied().filter(|f| *f != own && c.present(f)).collect();
    for field in foreign {
        c.errors.add(field, format!("The {field} field is prohibited for {kind} entries."));
    }
    match kind {
        "text" => match c.string("content", presence, usize::MAX) {
            Field::Value(s) => Body::Content(s),
            _ => Body::None,
        },
        "website" => c.https_url("url", presence).map_or(Body::None, Body::Url),
        "product_catalog" => read_products(c, creating).map_or(Body::None, Body::Products),
        _ => {
            if creating {
                c.errors.add("file", "The file field is required.");
            }
            Body::None
        }
    }
}

fn read_products(c: &mut Check, creating: bool) -> Option<Vec<Product>> {
    let items = match c.raw("products") {
        None | Some(Value::Null) => {
            if creating || c.present("products") {
                c.errors.add("products", "The products field must be an array.");
            }
            return None;
        }
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            c.errors.add("products", "The products field must be an array.");
            return None;
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            c.errors.add(&format!("products.{i}"), format!("The products.{i} field must be an object."));
            continue;
        };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let name = text("name").filter(|n| !n.trim().is_empty());
        if name.is_none() {
            c.errors.add(&format!("products.{i}.name"), format!("The products.{i}.name field is required."));
        }
        let price = match obj.get("price") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0) => Some(n.clone()),
            Some(_) => {
                c.errors.add(&format!("products.{i}.price"), format!("The products.{i}.price field must be a number."));
                None
            }
        };
        for k in ["description", "sku"] {
            if obj.get(k).is_some_and(|v| !v.is_null() && !v.is_string()) {
                c.errors.add(&format!("products.{i}.{k}"), format!("The products.{i}.{k} field must be a string."));
            }
        }
        out.push(Product { name: name.unwrap_or_default(), price, description: text("description"), sku: text("sku") });
    }
    Some(out)
}

fn set_nullable(slot: &mut Option<String>, f: Field<String>) {
    match f {
        Field::Value(v) => *slot = Some(v),
        Field::Null => *slot = None,
        Field::Absent => {}
    }
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut c = Check::new(&body);
    let title = c.text("title", Presence::Required, 255);
    let kind = c.one_of("type", Presence::Required, TYPES);
    let description = c.string("description", Presence::Nullable, usize::MAX);
    let business = c.string("business_description", Presence::Nullable, usize::MAX);
    let entry_body = kind.as_deref().map_or(Body::None, |k| read_body(&mut c, k, true));
    c.done()?;

    let now = Timestamp::now();
    let mut store = app.store();
    let mut entry = KnowledgeEntry {
        id: store.next_id(KnowledgeEntry::KIND),
        title: title.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        description: None,
        business_description: None,
        status: "active".into(),
        embedding_updated_at: None,
        content: None,
        url: None,
        products: None,
        file_name: None,
        file_size: None,
        pages_crawled: 0,
        processing_until: None,
        created_at: now,
        updated_at: now,
    };
    set_nullable(&mut entry.description, description);
    set_nullable(&mut entry.business_description, business);
    write_body(&mut entry, entry_body);
    entry.reembed(now, app.config.crawl_delay_ms);
    let data = entry.full_json(app.view());
    store.knowledge_base.push(entry);
    Ok(Reply::created(data, "Knowledge base entry created successfully."))
}

fn write_body(entry: &mut KnowledgeEntry, body: Body) -> bool {
    match body {
        Body::None => return false,
        Body::Content(s) => entry.content = Some(s),
        Body::Url(u) => entry.url = Some(u),
        Body::Products(p) => entry.products = Some(p),
    }
    true
}

async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Result<Reply, ApiError> {
    let body: Map<String, Value> = parse_object(&body)?;
    let mut store = app.store();
    let i = find(&store.knowledge_base, &id)?;
    let kind = store.knowledge_base[i].kind.clone();
    let mut c = Check::new(&body);
    let title = c.string("title", Presence::Sometimes, 255);
    if let Some(t) = c.one_of("type", Presence::Sometimes, TYPES) {
        if t != kind {
            c.errors.add("type", "The type of a knowledge base entry cannot be changed.");
        }
    }
    let description = c.string("description", Presence::Nullable, usize::MAX);
    let business = c.string("business_description", Presence::Nullable, usize::MAX);
    let entry_body = read_body(&mut c, &kind, false);
    c.done()?;

    let now = Timestamp::now();
    let entry = &mut store.knowledge_base[i];
    if let Field::Value(t) = title {
        entry.title = t;
    }
    set_nullable(&mut entry.description, description);
    set_nullable(&mut entry.business_description, business);
    if write_body(entry, entry_body) {
        entry.reembed(now, app.config.crawl_delay_ms);
    }
    entry.updated_at = now;
    Ok(Reply::ok(entry.full_json(app.view()), "Knowledge base entry updated successfully."))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&store.knowledge_base, &id)?;
    store.knowledge_base.remove(i);
    Ok(Reply::deleted())
}
