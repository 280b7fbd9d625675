//! YAML with positions: a node tree built from yaml-rust2's events, so every value knows its line and
//! column, and a serde `Deserializer` over that tree whose errors carry the position of the offending node.
//!
//! Limits make hostile input fail fast instead of eating memory: nesting depth, alias expansion
//! ("billion laughs"), one document per file, duplicate keys refused.

pub use crate::source::Pos;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Deeper than any sensible manifest; refuses stack-eating inputs early.
pub const MAX_DEPTH: usize = 64;
/// Nodes that aliases may add by expansion, per file.
pub const MAX_ALIAS_NODES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Scalar { value: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

impl Node {
    /// A plain `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: Style::Plain } if is_null_word(value))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } if !self.is_null() => Some(value),
            _ => None,
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Map(_) => "a mapping",
            Kind::Seq(_) => "a list",
            Kind::Scalar { .. } if self.is_null() => "nothing (null)",
            Kind::Scalar { value, style: Style::Plain } if parse_bool(value).is_some() => "a boolean",
            Kind::Scalar { value, style: Style::Plain } if value.parse::<f64>().is_ok() => "a number",
            Kind::Scalar { .. } => "a string",
        }
    }

    /// Every scalar, depth first, for passes that rewrite text (interpolation).
    pub fn scalars_mut(&mut self, f: &mut dyn FnMut(&mut String, Style, Pos)) {
        match &mut self.kind {
            Kind::Scalar { value, style } => f(value, *style, self.pos),
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.scalars_mut(f)),
            Kind::Map(entries) => entries.iter_mut().for_each(|(_, v)| v.scalars_mut(f)),
        }
    }

    /// Records the position of every key path below this node (`audience.lists.0`).
    pub fn positions(&self, prefix: &str, out: &mut HashMap<String, Pos>) {
        match &self.kind {
            Kind::Scalar { .. } => {}
            Kind::Seq(items) => {
                for (i, n) in items.iter().enumerate() {
                    let path = join(prefix, &i.to_string());
                    out.insert(path.clone(), n.pos);
                    n.positions(&path, out);
                }
            }
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let key = k.as_str().unwrap_or("?");
                    let path = join(prefix, key);
                    out.insert(format!("{path}#key"), k.pos);
                    out.insert(path.clone(), v.pos);
                    v.positions(&path, out);
                }
            }
        }
    }

    /// The node as JSON (for schema validation of manifests), with YAML 1.2 core typing of plain scalars.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Scalar { value, style: Style::Plain } => {
                if is_null_word(value) {
                    Value::Null
                } else if let Some(b) = parse_bool(value) {
                    Value::Bool(b)
                } else if let Ok(i) = value.parse::<i64>() {
                    Value::from(i)
                } else if let Some(f) = value.parse::<f64>().ok().filter(|f| f.is_finite() && looks_numeric(value)) {
                    Value::from(f)
                } else {
                    Value::String(value.clone())
                }
            }
            Kind::Scalar { value, .. } => Value::String(value.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.to_json())).collect(),
            ),
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn is_null_word(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `inf`, `nan` and friends parse as floats in Rust but are strings to a person.
fn looks_numeric(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
}

/// A YAML problem with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

/// Parses one YAML document. `Ok(None)` for a file with no document (empty, or comments only).
/// Duplicate keys do not stop parsing: they come back in the second list.
pub fn parse(text: &str) -> Result<(Option<Node>, Vec<YamlError>), YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder::default();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| scan_error(text, &e))?;
        let pos = Pos { line: mark.line() as u32, col: mark.col() as u32 + 1 };
        match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart => {
                b.documents += 1;
                if b.documents > 1 {
                    return Err(YamlError {
                        pos,
                        message: "a second YAML document (`---`) in one file".into(),
                        hint: Some("put each document in its own file; a manifest file holds one".into()),
                    });
                }
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let style = match style {
                    TScalarStyle::Plain => Style::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => Style::Quoted,
                    _ => Style::Block,
                };
                b.push(Node { kind: Kind::Scalar { value, style }, pos }, anchor)?;
            }
            Event::SequenceStart(anchor, _) => b.open(Kind::Seq(Vec::new()), pos, anchor)?,
            Event::MappingStart(anchor, _) => b.open(Kind::Map(Vec::new()), pos, anchor)?,
            Event::SequenceEnd | Event::MappingEnd => b.close()?,
            Event::Alias(id) => {
                let node = b.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    pos,
                    message: "an alias to an unknown anchor".into(),
                    hint: None,
                })?;
                b.alias_nodes += count(&node);
                if b.alias_nodes > MAX_ALIAS_NODES {
                    return Err(YamlError {
                        pos,
                        message: format!("YAML aliases expand to more than {MAX_ALIAS_NODES} values"),
                        hint: Some("this looks like an alias bomb (\"billion laughs\"); write the values out".into()),
                    });
                }
                b.push(node, 0)?;
            }
        }
    }
    Ok((b.root, b.duplicates))
}

fn count(n: &Node) -> usize {
    match &n.kind {
        Kind::Scalar { .. } => 1,
        Kind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Kind::Map(entries) => 1 + entries.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
    }
}

fn scan_error(text: &str, e: &yaml_rust2::ScanError) -> YamlError {
    let m = e.marker();
    let pos = Pos { line: m.line() as u32, col: m.col() as u32 + 1 };
    let line = text.lines().nth((pos.line as usize).saturating_sub(1)).unwrap_or("");
    let hint = if line.trim_start_matches(' ').starts_with('\t') || e.info().contains("tab") {
        Some("YAML indents with spaces, never tabs: replace the tab with spaces".to_string())
    } else {
        Some("check the indentation and quoting around this point".to_string())
    };
    YamlError { pos, message: format!("invalid YAML: {}", e.info()), hint }
}

#[derive(Default)]
struct Builder {
    stack: Vec<(Node, usize, Option<Node>)>, // open collection, its anchor, a map's pending key
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    documents: usize,
    duplicates: Vec<YamlError>,
}

impl Builder {
    fn open(&mut self, kind: Kind, pos: Pos, anchor: usize) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                pos,
                message: format!("YAML nested deeper than {MAX_DEPTH} levels"),
                hint: Some("manifests need only a few levels; flatten this structure".into()),
            });
        }
        self.stack.push((Node { kind, pos }, anchor, None));
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let (mut node, anchor, _) = self.stack.pop().expect("the parser balances starts and ends");
        // A block collection starts at its first item, which is where a person looks for it.
        let first = match &node.kind {
            Kind::Map(entries) => entries.first().map(|(k, _)| k.pos),
            Kind::Seq(items) => items.first().map(|n| n.pos),
            Kind::Scalar { .. } => None,
        };
        if let Some(first) = first {
            node.pos = node.pos.min(first);
        }
        merge_keys(&mut node)?;
        self.push(node, anchor)
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some((parent, _, pending)) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut parent.kind {
            Kind::Seq(items) => items.push(node),
            Kind::Map(entries) => match pending.take() {
                None => {
                    if !matches!(node.kind, Kind::Scalar { .. }) {
                        return Err(YamlError {
                            pos: node.pos,
                            message: "a mapping key must be a plain value, not a list or mapping".into(),
                            hint: None,
                        });
                    }
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.as_str() == node.as_str()) {
                        self.duplicates.push(YamlError {
                            pos: node.pos,
                            message: format!(
                                "duplicate key `{}` (first at line {})",
                                node.as_str().unwrap_or(""),
                                first.pos.line
                            ),
                            hint: Some("a key may appear once per mapping; remove one of them".into()),
                        });
                    }
                    *pending = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
            Kind::Scalar { .. } => unreachable!("scalars are never open"),
        }
        Ok(())
    }
}

/// YAML merge keys: `<<: *base` (or `<<: [*a, *b]`) copies the keys of those mappings that this mapping
/// does not set itself, so shared settings can be written once with an anchor.
fn merge_keys(node: &mut Node) -> Result<(), YamlError> {
    let Kind::Map(entries) = &mut node.kind else { return Ok(()) };
    let Some(at) = entries
        .iter()
        .position(|(k, _)| matches!(&k.kind, Kind::Scalar { value, style: Style::Plain } if value == "<<"))
    else {
        return Ok(());
    };
    let (key, value) = entries.remove(at);
    let sources: Vec<Node> = match value.kind {
        Kind::Map(_) => vec![value],
        Kind::Seq(items) if items.iter().all(|n| matches!(n.kind, Kind::Map(_))) => items,
        _ => {
            return Err(YamlError {
                pos: key.pos,
                message: "`<<` merges a mapping (or a list of mappings) into this one".into(),
                hint: Some("write `<<: *anchor` where the anchor names a mapping".into()),
            })
        }
    };
    for source in sources {
        let Kind::Map(more) = source.kind else { continue };
        for (k, v) in more {
            if !entries.iter().any(|(own, _)| own.as_str() == k.as_str()) {
                entries.push((k, v));
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ serde

/// A deserialization problem; `pos` is filled by the innermost node that saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub pos: Option<Pos>,
    /// Where to point when the problem is a key (unknown field): the key, with its length for the caret.
    pub len: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl DeError {
    fn at(mut self, pos: Pos) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
        }
        self
    }

    fn new(message: String) -> Self {
        DeError { pos: None, len: 1, message, hint: None }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            pos: None,
            len: field.chars().count().max(1),
            message: format!("unknown key `{field}`"),
            hint: Some(match crate::source::closest(field, expected) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("valid keys here: {}", list(expected)),
            }),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            pos: None,
            len: variant.chars().count().max(1),
            message: format!("`{variant}` is not one of {}", list(expected)),
            hint: crate::source::closest(variant, expected).map(|b| format!("did you mean `{b}`?")),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(format!("missing required key `{field}`"))
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::new(format!("expected {exp}, found {unexp}"))
    }
}

fn list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

impl Node {
    fn wrong(&self, expected: &str) -> DeError {
        DeError::new(format!("expected {expected}, found {}", self.describe())).at(self.pos)
    }
}

impl<'de> de::Deserializer<'de> for &Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match &self.kind {
            Kind::Scalar { value, style: Style::Plain } => {
                if is_null_word(value) {
                    v.visit_unit()
                } else if let Some(b) = parse_bool(value) {
                    v.visit_bool(b)
                } else if let Ok(u) = value.parse::<u64>() {
                    v.visit_u64(u)
                } else if let Ok(i) = value.parse::<i64>() {
                    v.visit_i64(i)
                } else if let Some(f) = value.parse::<f64>().ok().filter(|_| looks_numeric(value)) {
                    v.visit_f64(f)
                } else {
                    v.visit_str(value)
                }
            }
            Kind::Scalar { value, .. } => v.visit_str(value),
            Kind::Seq(items) => v.visit_seq(Items(items.iter())),
            Kind::Map(entries) => v.visit_map(Entries { iter: entries.iter(), value: None, seen: Vec::new() }),
        };
        r.map_err(|e: DeError| e.at(self.pos))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.kind {
            Kind::Scalar { value, style: Style::Plain } if parse_bool(value).is_some() => {
                v.visit_bool(parse_bool(value).unwrap_or_default()).map_err(|e: DeError| e.at(self.pos))
            }
            // The hint fits what was written: quotes to remove, or a YAML 1.1 word (`yes`, `on`) to replace.
            Kind::Scalar { value, style: Style::Plain } => {
                let hint = match value.to_ascii_lowercase().as_str() {
                    "yes" | "no" | "on" | "off" | "y" | "n" => {
                        format!("`{value}` is text in YAML 1.2, which skyform reads: write true or false")
                    }
                    _ => "write true or false".to_string(),
                };
                Err(DeError { hint: Some(hint), ..self.wrong("true or false") })
            }
            Kind::Scalar { .. } => {
                Err(DeError { hint: Some("write true or false, without quotes".into()), ..self.wrong("true or false") })
            }
            _ => Err(DeError { hint: Some("write true or false".into()), ..self.wrong("true or false") }),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        // Any non-null scalar reads as text: `password: 12345678` means the string the person typed.
        match &self.kind {
            Kind::Scalar { value, .. } if !self.is_null() => v.visit_str(value).map_err(|e: DeError| e.at(self.pos)),
            _ => Err(self.wrong("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            v.visit_unit()
        } else {
            Err(self.wrong("nothing (null)"))
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.kind {
            Kind::Seq(items) => v.visit_seq(Items(items.iter())).map_err(|e: DeError| e.at(self.pos)),
            _ => Err(self.wrong("a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.kind {
            Kind::Map(entries) => v
                .visit_map(Entries { iter: entries.iter(), value: None, seen: Vec::new() })
                .map_err(|e: DeError| e.at(self.pos)),
            _ => Err(self.wrong("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match &self.kind {
            Kind::Scalar { value, .. } if !self.is_null() => {
                let d: de::value::StrDeserializer<DeError> = value.as_str().into_deserializer();
                v.visit_enum(d).map_err(|e: DeError| e.at(self.pos))
            }
            _ => Err(self.wrong("one of the listed words")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit_struct tuple tuple_struct
    }
}

struct Items<'a>(std::slice::Iter<'a, Node>);

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.0.next() {
            Some(n) => seed.deserialize(n).map(Some).map_err(|e: DeError| e.at(n.pos)),
            None => Ok(None),
        }
    }
}

struct Entries<'a> {
    iter: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
    /// Keys already given: a repeated key was reported by the parser, so serde never sees it twice.
    seen: Vec<&'a str>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let mut next = self.iter.next();
        while let Some((k, _)) = next {
            match k.as_str() {
                Some(key) if self.seen.contains(&key) => next = self.iter.next(),
                Some(key) => {
                    self.seen.push(key);
                    break;
                }
                None => break,
            }
        }
        match next {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some).map_err(|e: DeError| e.at(k.pos))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let v = self.value.take().expect("serde asks for a value after its key");
        seed.deserialize(v).map_err(|e: DeError| e.at(v.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let (root, dups) = parse("a: 1\nb:\n  - x\n  - {c: d}\n").unwrap();
        let root = root.unwrap();
        assert!(dups.is_empty());
        assert_eq!(root.get("a").unwrap().pos, Pos { line: 1, col: 4 });
        let b = root.get("b").unwrap();
        let Kind::Seq(items) = &b.kind else { panic!() };
        assert_eq!(items[0].pos, Pos { line: 3, col: 5 });
        assert_eq!(items[1].get("c").unwrap().pos, Pos { line: 4, col: 9 });
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second() {
        let (_, dups) = parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].pos, Pos { line: 3, col: 1 });
        assert!(dups[0].message.contains("first at line 1"));
    }

    #[test]
    fn alias_bombs_and_depth_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 { "a".to_string() } else { format!("l{}", i - 1) };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(parse(&bomb).unwrap_err().message.contains("aliases expand"));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
    }

    #[test]
    fn merge_keys_copy_what_the_mapping_does_not_set() {
        let text = "a: &base {x: 1, y: 2}\nb:\n  <<: *base\n  y: 3\n";
        let root = parse(text).unwrap().0.unwrap();
        let b = root.get("b").unwrap();
        assert_eq!(b.get("x").unwrap().as_str(), Some("1"));
        assert_eq!(b.get("y").unwrap().as_str(), Some("3"));
        assert!(b.get("<<").is_none());
        assert!(parse("a:\n  <<: 5\n").is_err());
    }

    #[test]
    fn empty_and_comment_only_files_have_no_document() {
        assert!(parse("").unwrap().0.is_none());
        assert!(parse("# nothing\n").unwrap().0.is_none());
    }
}
