//! Knowledge base entries (`/knowledge-base`). Natural key: `title`.
//!
//! skyform manages `text`, `website` and `product_catalog` entries; `document` and `voice` entries are
//! created by file upload, which skyform does not do yet, so they are refused in manifests (and left
//! unmanaged in the account). Each type has its own body field: `content`, `url`, `products`.

use super::{https_problem, Checks, Ensure, Entry, Origin, Text};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
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
}

/// A knowledge base entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeEntrySpec {
    /// Pins this entry to one live entry (for duplicate titles, or to rename).
    pub id: Option<u64>,
    /// The natural key.
    pub title: String,
    #[serde(default)]
    pub ensure: Ensure,
    /// `text`, `website` or `product_catalog`; immutable once created.
    #[serde(rename = "type")]
    pub kind: Option<KnowledgeType>,
    pub description: Option<Text>,
    pub business_description: Option<Text>,
    /// The body of a `text` entry.
    pub content: Option<Text>,
    /// The https URL a `website` entry crawls.
    pub url: Option<String>,
    /// The products of a `product_catalog` entry.
    pub products: Option<Vec<Product>>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    pub price: Option<f64>,
    pub description: Option<String>,
    pub sku: Option<String>,
}

impl Entry for KnowledgeEntrySpec {
    const R_KIND: super::Kind = super::Kind::KnowledgeBase;
    const LABEL: &'static str = "knowledge entry";
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

impl super::Resource for KnowledgeBase {
    const KIND: super::Kind = super::Kind::KnowledgeBase;
    const PATH: &'static str = "/knowledge-base";
    type Live = LiveKnowledgeEntry;
    fn live_id(l: &LiveKnowledgeEntry) -> u64 {
        l.id
    }
    fn live_key(l: &LiveKnowledgeEntry) -> String {
        l.title.clone()
    }
    fn summary(l: &LiveKnowledgeEntry) -> serde_json::Value {
        serde_json::json!({"id": l.id, "title": l.title, "type": l.kind, "updated_at": l.updated_at.map(|t| t.unix_timestamp_nanos().to_string())})
    }
}

fn product_json(name: &str, price: Option<f64>, description: Option<&str>, sku: Option<&str>) -> serde_json::Value {
    let opt =
        |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map_or(serde_json::Value::Null, |s| s.into());
    serde_json::json!({
        "name": name.trim(),
        "price": price.map_or(serde_json::Value::Null, |p| serde_json::json!(p)),
        "description": opt(description),
        "sku": opt(sku),
    })
}

impl super::Managed for KnowledgeEntrySpec {
    type R = KnowledgeBase;
    const NEEDS_DETAIL: bool = true;

    fn desired(&self, _: &super::Lookups) -> Result<super::Fields, crate::manifest::problem::Problem> {
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
