//! Manifests as YAML text, through serde_yaml, plus the two things it does not do for us:
//!
//! - **`$` is doubled** in every value, since manifests interpolate `${VAR}` and read `$$` as `$`. Keys are
//!   not interpolated, so they keep theirs.
//! - **Plain scalars that other readers take for something else are quoted.** serde_yaml emits YAML 1.2 and
//!   quotes what a 1.2 reader would type (`true`, `1`, `null`); it leaves plain what only YAML 1.1 readers
//!   (editors, linters, many tools) or merge-key-aware readers misread: `<<` (a merge key, skyform's own
//!   reader included), `=`, `yes`/`no`/`on`/`off`/`y`/`n`, sexagesimals (`12:30`), `1_000`, dates, `.inf`.
//!   [`quote_misread`] quotes exactly those, line by line: serde_yaml writes block style, one key or item per
//!   line, and block scalars (`|`) are skipped.
//!
//! And one thing it gets wrong: a string holding a carriage return or a Unicode line break (NEL, LS, PS)
//! is written with that break raw, which readers fold. Such strings are swapped for a placeholder before
//! serializing and written back as double-quoted scalars with every break escaped.

use serde_yaml::Value;

/// The document as YAML: `$` doubled in values, misread scalars quoted.
pub fn to_yaml(doc: &Value) -> String {
    let mut own = Vec::new();
    let prepared = prepare(doc, &mut own);
    let mut text = serde_yaml::to_string(&prepared).unwrap_or_default();
    for (i, s) in own.iter().enumerate() {
        text = text.replace(&format!("\"\\x01{i}\\x01\""), &double_quoted(s));
    }
    quote_misread(&text)
}

/// Characters serde_yaml writes raw where readers fold them.
fn breaks_emitter(s: &str) -> bool {
    s.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}'])
}

/// A placeholder serde_yaml writes double-quoted (`\x01` is not printable), and the string it stands for.
fn placeholder(s: String, own: &mut Vec<String>) -> Value {
    own.push(s);
    Value::String(format!("\u{1}{}\u{1}", own.len() - 1))
}

/// `$` doubled in values (keys are not interpolated); strings the emitter would break set aside.
fn prepare(v: &Value, own: &mut Vec<String>) -> Value {
    match v {
        Value::String(s) if breaks_emitter(s) => placeholder(s.replace('$', "$$"), own),
        Value::String(s) => Value::String(s.replace('$', "$$")),
        Value::Sequence(items) => Value::Sequence(items.iter().map(|v| prepare(v, own)).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) if breaks_emitter(s) => placeholder(s.clone(), own),
                        other => other.clone(),
                    };
                    (key, prepare(v, own))
                })
                .collect(),
        ),
        Value::Tagged(t) => Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
            tag: t.tag.clone(),
            value: prepare(&t.value, own),
        })),
        other => other.clone(),
    }
}

/// A YAML double-quoted scalar: backslash, quote, controls and every line break escaped.
fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A plain scalar that some YAML reader takes for something other than this string. (`true`, `null`,
/// numbers and `.inf` are not here: serde_yaml already quotes them when they are strings, so a plain one
/// is a real boolean, null or number.)
fn misread(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let yaml11_word = matches!(lower.as_str(), "y" | "n" | "yes" | "no" | "on" | "off");
    let numberish = s.contains('_') && s.replace('_', "").parse::<f64>().is_ok();
    let sexagesimal = s.contains(':')
        && s.trim_start_matches(['+', '-'])
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'));
    let date = s.len() >= 8
        && s.as_bytes()[0].is_ascii_digit()
        && s.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 't' | ' ' | '.' | 'Z' | 'z' | '+'))
        && s.split(['-', 'T', 't', ' ']).next().is_some_and(|y| y.len() == 4);
    yaml11_word || numberish || sexagesimal || date || s == "<<" || s == "="
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A plain (unquoted, unstructured) scalar as serde_yaml writes one.
fn is_plain(s: &str) -> bool {
    !s.is_empty() && !s.starts_with(['\'', '"', '|', '>', '[', '{', '&', '*', '!', '?'])
}

/// Where a line's key ends (the index of its `: `), skipping a quoted key's content.
fn key_end(rest: &str) -> Option<usize> {
    let start = match rest.chars().next() {
        Some('\'') => {
            let mut i = 1;
            let b = rest.as_bytes();
            loop {
                match b.get(i) {
                    Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                    Some(b'\'') => break i + 1,
                    Some(_) => i += 1,
                    None => return None,
                }
            }
        }
        Some('"') => {
            let mut i = 1;
            let b = rest.as_bytes();
            loop {
                match b.get(i) {
                    Some(b'\\') => i += 2,
                    Some(b'"') => break i + 1,
                    Some(_) => i += 1,
                    None => return None,
                }
            }
        }
        _ => 0,
    };
    rest.get(start..)?.find(": ").map(|at| at + start)
}

/// Quotes, in serde_yaml's block output, every plain key and value that [`misread`] flags.
pub fn quote_misread(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 16);
    // Inside a block scalar: lines indented deeper than this belong to it.
    let mut block: Option<usize> = None;
    for line in yaml.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let indent = body.len() - body.trim_start_matches(' ').len();
        if let Some(parent) = block {
            if body.trim().is_empty() || indent > parent {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let mut rest = &body[indent..];
        let mut prefix = body[..indent].to_string();
        let mut level = indent;
        while let Some(r) = rest.strip_prefix("- ") {
            prefix.push_str("- ");
            rest = r;
            level += 2;
        }
        // A complex key (`? |-`) or its value (`: |-`): only its block matters here.
        if let Some(r) = rest.strip_prefix("? ").or_else(|| rest.strip_prefix(": ")) {
            if r.starts_with('|') || r.starts_with('>') {
                block = Some(level);
            }
            out.push_str(line);
            continue;
        }
        let (key, value) = match key_end(rest).map(|at| (&rest[..at], &rest[at + 2..])) {
            Some(kv) => (Some(kv.0), Some(kv.1)),
            None if rest.ends_with(':') => (Some(&rest[..rest.len() - 1]), None),
            None if rest == "-" => (None, None),
            None => (None, Some(rest)),
        };
        let fix = |s: &str| if is_plain(s) && misread(s) { quoted(s) } else { s.to_string() };
        prefix.push_str(&match (key, value) {
            (Some(k), Some(v)) => format!("{}: {}", fix(k), fix(v)),
            (Some(k), None) => format!("{}:", fix(k)),
            (None, Some(v)) => fix(v),
            (None, None) => rest.to_string(),
        });
        if value.is_some_and(|v| v.starts_with('|') || v.starts_with('>')) {
            block = Some(level);
        }
        out.push_str(&prefix);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misread_scalars_are_quoted_and_nothing_else() {
        let mut m = serde_yaml::Mapping::new();
        for s in ["<<", "no", "On", "y", "12:30", "1_000", "2026-03-04", ".inf", "=", "plain", "a:b", "x y"] {
            m.insert(s.into(), s.into());
        }
        m.insert("block".into(), "no\nyes\n<<\n".into());
        let text = to_yaml(&Value::Mapping(m));
        for s in ["<<", "no", "On", "y", "12:30", "1_000", "2026-03-04", "="] {
            assert!(text.contains(&format!("'{s}': '{s}'\n")), "{s}: {text}");
        }
        assert!(text.contains("plain: plain\n") && text.contains("a:b: a:b\n") && text.contains("x y: x y\n"));
        assert!(text.contains("  no\n  yes\n  <<\n"), "block content is left alone: {text}");
    }

    #[test]
    fn dollars_are_doubled_in_values_only() {
        let mut m = serde_yaml::Mapping::new();
        m.insert("$key".into(), "costs $5 ${X}".into());
        assert_eq!(to_yaml(&Value::Mapping(m)), "$key: costs $$5 $${X}\n");
    }
}
