//! Knowledge base entries (`/knowledge-base`). Natural key: `title`.
//!
//! skyform manages `text`, `website` and `product_catalog` entries; `document` and `voice` entries are
//! created by file upload, which skyform does not do yet, so they are refused in manifests (and left
//! unmanaged in the account). Each type has its own body field: `content`, `url`, `products`.

use super::{https_problem, Checks, Ensure, Entry, Lookups, Managed, Origin, Resource, Text};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KnowledgeType {
    Text,
    Website,
    ProductCatalog,
    /// Not manageable yet: needs a file upload.
    Document,
    /// Not manageable yet: needs a file upload.
    Voice,
}

impl KnowledgeType {
    pub fn as_str(self) -> &'static str {
        match self {
            KnowledgeType::Text => "text",
            KnowledgeType::Website => "website",
            KnowledgeType::ProductCatalog => "product_catalog",
            KnowledgeType::Document => "document",
            KnowledgeType::Voice => "voice",
        }
    }

    /// The body field this type carries.
    pub fn body_field(self) -> Option<&'static str> {
        match self {
            KnowledgeType::Text => Some("content"),
            KnowledgeType::Website => Some("url"),
            KnowledgeType::ProductCatalog => Some("products"),
            KnowledgeType::Document | KnowledgeType::Voice => None,
        }
    }

    fn parse(s: &str) -> Option<KnowledgeType> {
        [Self::Text, Self::Website, Self::ProductCatalog, Self::Document, Self::Voice]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A knowledge base entry.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeEntrySpec {
    /// Pins this entry to one live entry (for duplicate titles, or to rename).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The natural key.
    pub title: String,
    /// `absent` deletes the live object this entry names.
    #[serde(default, skip_serializing_if = "Ensure::is_present")]
    pub ensure: Ensure,
    /// `text`, `website` or `product_catalog`; immutable once created.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<KnowledgeType>,
    /// A short description of the entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// What the business is, as context for the agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_description: Option<Text>,
    /// The body of a `text` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Text>,
    /// The https URL a `website` entry crawls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The products of a `product_catalog` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<Product>>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// The product's name.
    pub name: String,
    /// The price, a number (sent as the API's string form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// The product's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The stock-keeping unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
}

impl Entry for KnowledgeEntrySpec {
    const LABEL: &'static str = "knowledge entry";
    const PLURAL: &'static str = "knowledge entries";
    const TITLE: &'static str = "Knowledge base";
    const KEY_FIELD: &'static str = "title";

    fn natural_key(&self) -> String {
        self.title.clone()
    }
    super::entry_fields!();

    fn check(&self, c: &mut Checks) {
        let o = &self.origin;
        c.short_text(o, "title", &self.title);
        if self.ensure == Ensure::Absent {
            return;
        }
        let Some(kind) = self.kind else {
            c.require(o, "type", &self.kind, &format!("knowledge entry `{}`", self.title));
            return;
        };
        let Some(own) = kind.body_field() else {
            c.push(
                o.problem(
                    "type",
                    format!("skyform cannot manage `{}` entries yet: they are created by file upload", kind.as_str()),
                )
                .hint("remove this entry; the live entry stays in the account, unmanaged"),
            );
            return;
        };
        let present =
            [("content", self.content.is_some()), ("url", self.url.is_some()), ("products", self.products.is_some())];
        let has_own = present.iter().any(|(f, set)| *f == own && *set);
        for (field, is_set) in present {
            if is_set && field != own {
                let hint = if has_own {
                    format!("remove `{field}:`; a `{}` entry takes only `{own}`", kind.as_str())
                } else {
                    format!("a `{}` entry takes `{own}`: replace `{field}:` with `{own}:`", kind.as_str())
                };
                c.push(
                    o.problem(
                        &format!("{field}#key"),
                        format!("`{field}` does not belong to a `{}` entry", kind.as_str()),
                    )
                    .hint(hint),
                );
            }
        }
        let foreign = present.iter().any(|(f, set)| *f != own && *set);
        if !has_own && !foreign {
            c.push(
                o.problem("type", format!("a `{}` entry needs `{own}`", kind.as_str()))
                    .hint(format!("add `{own}:` to knowledge entry `{}`", self.title)),
            );
        }
        if let Some(url) = &self.url {
            if let Some((what, hint)) = https_problem(url) {
                c.push(o.problem("url", format!("url `{}` {what}", crate::redact::url_for_display(url))).hint(hint));
            }
        }
        for (i, p) in self.products.iter().flatten().enumerate() {
            if p.name.trim().is_empty() {
                c.push(o.problem(&format!("products.{i}"), "a product needs a `name`"));
            }
            if p.price.is_some_and(|x| x < 0.0 || !x.is_finite()) {
                c.push(o.problem(&format!("products.{i}.price"), "a price cannot be negative"));
            }
        }
    }

    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        [
            ("description", self.description.as_mut()),
            ("business_description", self.business_description.as_mut()),
            ("content", self.content.as_mut()),
        ]
        .into_iter()
        .filter_map(|(f, t)| t.map(|t| (f, t)))
        .collect()
    }
}

/// A knowledge entry as the API returns it. List items carry no body; the single GET adds it.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct LiveKnowledgeEntry {
    pub id: u64,
    pub title: String,
    /// Kept as text: a type the API adds later must not break reading the list.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub business_description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::time")]
    pub embedding_updated_at: Option<time::OffsetDateTime>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub products: Option<Vec<LiveProduct>>,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::time")]
    pub updated_at: Option<time::OffsetDateTime>,
}

#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct LiveProduct {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "super::lenient::number")]
    pub price: Option<f64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
}

/// `/knowledge-base`: paginated, bodies only in the single GET.
pub struct KnowledgeBase;

impl Resource for KnowledgeBase {
    const KIND: super::Kind = super::Kind::KnowledgeBase;
    const PATH: &'static str = "/knowledge-base";
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/knowledge_base.rs"];
    const PAGE_SIZE: Option<u64> = Some(15);
    const DETAIL_FIELD: Option<&'static str> = Some("content");
    type Live = LiveKnowledgeEntry;
    fn live_id(l: &LiveKnowledgeEntry) -> u64 {
        l.id
    }
    /// `updated_at` [doc]: every edit of the entry moves it (Laravel's timestamps).
    fn validator(l: &LiveKnowledgeEntry) -> Option<String> {
        l.updated_at.map(|t| t.unix_timestamp_nanos().to_string())
    }
    fn live_key(l: &LiveKnowledgeEntry) -> String {
        l.title.clone()
    }
    fn summary(l: &LiveKnowledgeEntry) -> Value {
        serde_json::json!({"id": l.id, "title": l.title, "type": l.kind, "updated_at": l.updated_at.map(|t| t.unix_timestamp_nanos().to_string())})
    }
}

fn product_json(name: &str, price: Option<f64>, description: Option<&str>, sku: Option<&str>) -> Value {
    let opt = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map_or(Value::Null, |s| s.into());
    json!({
        "name": name.trim(),
        "price": price.map_or(Value::Null, |p| json!(p)),
        "description": opt(description),
        "sku": opt(sku),
    })
}

impl Managed for KnowledgeEntrySpec {
    type R = KnowledgeBase;
    const NEEDS_DETAIL: bool = true;

    fn desired(&self, _: &Lookups) -> Result<super::Fields, Problem> {
        let text = |t: &Option<Text>| super::canon_text(t.as_ref().and_then(Text::value));
        let kind = self.kind.unwrap_or(KnowledgeType::Text);
        let mut f = vec![
            ("title", super::canon_short(&self.title)),
            ("type", kind.as_str().into()),
            ("description", text(&self.description)),
            ("business_description", text(&self.business_description)),
        ];
        match kind {
            KnowledgeType::Text => f.push(("content", text(&self.content))),
            KnowledgeType::Website => f.push(("url", self.url.as_deref().unwrap_or("").trim().into())),
            KnowledgeType::ProductCatalog => f.push((
                "products",
                self.products
                    .iter()
                    .flatten()
                    .map(|p| product_json(&p.name, p.price, p.description.as_deref(), p.sku.as_deref()))
                    .collect(),
            )),
            KnowledgeType::Document | KnowledgeType::Voice => {}
        }
        Ok(f)
    }

    fn live_fields(l: &LiveKnowledgeEntry) -> super::Fields {
        let mut f = vec![
            ("title", super::canon_short(&l.title)),
            ("type", l.kind.as_str().into()),
            ("description", super::canon_text(l.description.as_deref())),
            ("business_description", super::canon_text(l.business_description.as_deref())),
        ];
        match l.kind.as_str() {
            "text" => f.push(("content", super::canon_text(l.content.as_deref()))),
            "website" => f.push(("url", l.url.as_deref().unwrap_or("").trim().into())),
            "product_catalog" => f.push((
                "products",
                l.products
                    .iter()
                    .flatten()
                    .map(|p| product_json(&p.name, p.price, p.description.as_deref(), p.sku.as_deref()))
                    .collect(),
            )),
            _ => {}
        }
        f
    }

    /// Every field as written; the body field of the entry's type only.
    fn body(&self, _: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
        let text = |t: &Option<Text>| t.as_ref().and_then(Text::value).map_or(Value::Null, Value::from);
        let kind = self.kind.unwrap_or(KnowledgeType::Text);
        let mut body = Map::new();
        body.insert("title".into(), self.title.clone().into());
        body.insert("type".into(), kind.as_str().into());
        body.insert("description".into(), text(&self.description));
        body.insert("business_description".into(), text(&self.business_description));
        match kind {
            KnowledgeType::Text => {
                body.insert("content".into(), text(&self.content));
            }
            KnowledgeType::Website => {
                body.insert("url".into(), self.url.clone().map_or(Value::Null, Value::from));
            }
            KnowledgeType::ProductCatalog => {
                let products: Vec<Value> = self
                    .products
                    .iter()
                    .flatten()
                    .map(|p| json!({"name": p.name, "price": p.price, "description": p.description, "sku": p.sku}))
                    .collect();
                body.insert("products".into(), products.into());
            }
            KnowledgeType::Document | KnowledgeType::Voice => {}
        }
        Ok(body)
    }

    /// `document` and `voice` entries are created by file upload, which skyform does not do.
    fn from_live(l: &LiveKnowledgeEntry, _: &Lookups) -> Result<Self, String> {
        let kind = KnowledgeType::parse(&l.kind).filter(|k| k.body_field().is_some()).ok_or_else(|| {
            format!(
                "knowledge entry \"{}\" (id {}, type {}) is created by file upload, which skyform does not manage; it stays in the account, unmanaged",
                l.title, l.id, l.kind
            )
        })?;
        let text = |t: &Option<String>| t.as_ref().filter(|s| !s.trim().is_empty()).map(|s| Text::Inline(s.clone()));
        Ok(KnowledgeEntrySpec {
            id: None,
            title: l.title.clone(),
            ensure: Ensure::Present,
            kind: Some(kind),
            description: text(&l.description),
            business_description: text(&l.business_description),
            content: (kind == KnowledgeType::Text).then(|| Text::Inline(l.content.clone().unwrap_or_default())),
            url: (kind == KnowledgeType::Website).then(|| l.url.clone().unwrap_or_default()),
            products: (kind == KnowledgeType::ProductCatalog).then(|| {
                l.products
                    .iter()
                    .flatten()
                    .map(|p| Product {
                        name: p.name.clone(),
                        price: p.price,
                        description: p.description.clone().filter(|s| !s.trim().is_empty()),
                        sku: p.sku.clone().filter(|s| !s.trim().is_empty()),
                    })
                    .collect()
            }),
            origin: Origin::default(),
        })
    }

    /// `document` and `voice` entries are made by file upload: skyform can never re-create them.
    fn unmanageable(l: &LiveKnowledgeEntry) -> Option<String> {
        KnowledgeType::parse(&l.kind)
            .is_none_or(|k| k.body_field().is_none())
            .then(|| format!("a `{}` entry, created by file upload, which skyform does not manage", l.kind))
    }

    fn refuse_update(&self, live: &LiveKnowledgeEntry, changed: &[&str]) -> Option<String> {
        changed.contains(&"type").then(|| {
            format!(
                "knowledge entry `{}` is a `{}` entry: its type cannot change to `{}`; add a new entry with another title and remove this one with `ensure: absent`",
                live.title,
                live.kind,
                self.kind.map_or("?", KnowledgeType::as_str)
            )
        })
    }
}
