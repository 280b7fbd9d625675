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

use serde_yaml::Value;

/// The document as YAML: `$` doubled in values, misread scalars quoted.
pub fn to_yaml(doc: &Value) -> String {
    let text = serde_yaml::to_string(&double_dollars(doc)).unwrap_or_default();
    quote_misread(&text)
}

fn double_dollars(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace('$', "$$")),
        Value::Sequence(items) => Value::Sequence(items.iter().map(double_dollars).collect()),
        Value::Mapping(m) => Value::Mapping(m.iter().map(|(k, v)| (k.clone(), double_dollars(v))).collect()),
        Value::Tagged(t) => Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
            tag: t.tag.clone(),
            value: double_dollars(&t.value),
        })),
        other => other.clone(),
    }
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
        let (key, value) = match rest.find(": ").map(|at| (&rest[..at], &rest[at + 2..])) {
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
