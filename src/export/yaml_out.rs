//! Writing YAML by hand, deterministically: plain scalars where they read back as the same string, JSON-style
//! double quotes everywhere else. `$` is doubled, since manifests interpolate `${VAR}`.

/// A string as a YAML scalar that loads back as exactly `s` (after skyform's `$$` → `$`).
pub fn scalar(s: &str) -> String {
    let escaped = s.replace('$', "$$");
    if is_plain_safe(&escaped) {
        escaped
    } else {
        serde_json::to_string(&escaped).expect("a string serialises")
    }
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let reserved_start = "-?:,[]{}#&*!|>'\"%@`~ ".contains(first);
    let looks_typed = matches!(s, "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
        || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o");
    !reserved_start
        && !looks_typed
        && !s.ends_with(' ')
        && !s.ends_with(':')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains(['\n', '\r', '\t', '\\', '"', '\'', '{', '}', '[', ']', ',', '`'])
        && s.chars().all(|c| !c.is_control())
}

/// A number as YAML (integers without a fraction).
pub fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// A short, file-safe name for a text: ASCII letters and digits joined by `-`, or `fallback`.
pub fn slug(s: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').chars().take(48).collect::<String>();
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_load_back_as_written() {
        for s in [
            "Sales Assistant",
            "مساعد خدمة العملاء",
            "true",
            "600",
            "a: b",
            "# not a comment",
            "- dash",
            "costs $5 or ${HOME}",
            "quote \" and \\ backslash",
            " padded ",
            "",
            "line\nbreak",
            "https://example.com/a?b=c#d",
        ] {
            let yaml = format!("v: {}\n", scalar(s));
            let node = crate::manifest::yaml::parse(&yaml).unwrap().0.unwrap();
            let mut v = node.get("v").unwrap().clone();
            let mut got = String::new();
            v.scalars_mut(&mut |value, _, _| {
                got = crate::manifest::interpolate_for_tests(value);
            });
            assert_eq!(got, s, "{yaml}");
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Sales Assistant", "x"), "sales-assistant");
        assert_eq!(slug("مساعد", "agent-2"), "agent-2");
        assert_eq!(slug("Return Policy (2026)!", "x"), "return-policy-2026");
    }
}
