//! Variables in manifests, and the one rule that keeps secrets out of what plans show.
//!
//! - `${NAME}` and `${NAME:-default}` in any field that plans show read the environment variable
//!   `SKYFORM_VAR_NAME`, and nothing else (Terraform's `TF_VAR_` convention). A pull request can therefore
//!   only print what the pipeline exported for manifests on purpose, never `GITHUB_TOKEN` or the API key.
//! - A secret field (a team member's `password`) is exactly `${NAME}`: a reference to
//!   `SKYFORM_SECRET_NAME`, resolved only when a request that needs it is sent, never shown, never saved.
//!   A `SKYFORM_SECRET_` variable can reach no field that is shown.
//! - Names starting with `SKYLIGHT_` or `SKYFORM_` are refused: they hold the API key and skyform's own
//!   settings. A value that contains the API key is refused too.
//! - `$$` is a literal `$` everywhere, defaults included; defaults may themselves hold references
//!   (`${A:-${B:-x}}`), resolved only when used. A `${` that does not form a reference is an error, so a
//!   literal `${` never reaches the API unnoticed (write `$${`).

/// The prefix of the variables shown fields read.
pub const VAR_PREFIX: &str = "SKYFORM_VAR_";
use crate::resources::{SecretRef, SECRET_PREFIX};
/// How deep defaults may nest references.
const MAX_NESTING: usize = 8;

/// What went wrong at which character of the string.
#[derive(Debug, PartialEq)]
pub struct InterpolationError {
    /// Character offset of the `$` that starts the reference.
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub hint: String,
}

/// Where variables come from (the process environment, or a map in tests), and the API key's value, which
/// no interpolated value may contain.
pub struct Vars<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub api_key: Option<String>,
}

impl Vars<'_> {
    fn shown(&self, name: &str) -> Option<String> {
        (self.env)(&format!("{VAR_PREFIX}{name}"))
    }
}

fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names manifests may never read.
fn reserved(name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    if let Some(rest) = upper.strip_prefix(VAR_PREFIX).or_else(|| upper.strip_prefix(SECRET_PREFIX)) {
        return Some(format!("write ${{{}}}: the prefix is added by skyform", &name[name.len() - rest.len()..]));
    }
    (upper.starts_with("SKYLIGHT_") || upper.starts_with("SKYFORM_")).then(|| {
        "variables named SKYLIGHT_* or SKYFORM_* hold the API key and skyform's settings; manifests never read them"
            .to_string()
    })
}

/// Replaces every reference in a field that plans show; collects every error rather than stopping at the
/// first.
pub fn interpolate(s: &str, vars: &Vars) -> Result<String, Vec<InterpolationError>> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser { chars: &chars, vars, errors: Vec::new() };
    let mut out = String::with_capacity(s.len());
    let end = p.text(0, false, true, 0, &mut out);
    debug_assert_eq!(end, chars.len());
    if p.errors.is_empty() {
        Ok(out)
    } else {
        Err(p.errors)
    }
}

struct Parser<'a> {
    chars: &'a [char],
    vars: &'a Vars<'a>,
    errors: Vec<InterpolationError>,
}

impl Parser<'_> {
    /// Text from `i` up to the end, or, `in_default`, up to the `}` that closes the enclosing reference
    /// (whose index is returned). `eval`: resolve references (false inside a default that is not used).
    fn text(&mut self, mut i: usize, in_default: bool, eval: bool, depth: usize, out: &mut String) -> usize {
        let c = self.chars;
        while i < c.len() {
            match (c[i], c.get(i + 1)) {
                ('}', _) if in_default => return i,
                // A lone `$` ending a default would join a `{` after the reference into `${`: ambiguous.
                ('$', Some('}')) if in_default => {
                    self.error(i, 1, "a `$` ends this default".into(), "write $$ for a literal $ (`${NAME:-$$}`)");
                    i += 1;
                }
                ('$', Some('$')) => {
                    out.push('$');
                    i += 2;
                }
                ('$', Some('{')) => i = self.reference(i, eval, depth, out),
                (ch, _) => {
                    out.push(ch);
                    i += 1;
                }
            }
        }
        i
    }

    fn error(&mut self, offset: usize, len: usize, message: String, hint: impl Into<String>) {
        self.errors.push(InterpolationError { offset, len, message, hint: hint.into() });
    }

    /// The reference starting at `start` (`${`); returns the index after its `}`.
    fn reference(&mut self, start: usize, eval: bool, depth: usize, out: &mut String) -> usize {
        let c = self.chars;
        let name_start = start + 2;
        let mut j = name_start;
        while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') {
            j += 1;
        }
        let name: String = c[name_start..j].iter().collect();
        let closing = |from: usize| c[from..].iter().position(|ch| *ch == '}').map(|p| p + from);
        let not_closed = |p: &mut Self| {
            p.error(
                start,
                c.len() - start,
                "`${` is not closed by `}`".into(),
                "write ${NAME} or ${NAME:-default}; write $$ for a literal $",
            );
            c.len()
        };
        let has_default = c.get(j) == Some(&':') && c.get(j + 1) == Some(&'-');
        if !valid_name(&name) || !(c.get(j) == Some(&'}') || has_default) {
            let Some(end) = closing(start) else { return not_closed(self) };
            let inner: String = c[name_start..end].iter().collect();
            self.error(
                start,
                end - start + 1,
                format!("`${{{inner}}}` is not a variable reference"),
                "names are letters, digits and _, e.g. ${CRM_WEBHOOK_URL}; write $$ for a literal $",
            );
            return end + 1;
        }
        if depth >= MAX_NESTING {
            self.error(start, 2, format!("references nest deeper than {MAX_NESTING} levels"), "simplify the defaults");
            return closing(j).map_or(c.len(), |e| e + 1);
        }
        let value = if eval { self.vars.shown(&name) } else { None };
        let (end, default) = if has_default {
            let mut d = String::new();
            let use_default = eval && value.is_none();
            let end = self.text(j + 2, true, use_default, depth + 1, &mut d);
            if end >= c.len() {
                return not_closed(self);
            }
            (end, Some(d))
        } else {
            (j, None)
        };
        let len = end - start + 1;
        if let Some(why) = reserved(&name) {
            self.error(start, len, format!("`${{{name}}}` cannot be interpolated"), why);
            return end + 1;
        }
        if !eval {
            return end + 1;
        }
        match (value, default) {
            (Some(v), _) => {
                if self.vars.api_key.as_deref().is_some_and(|k| !k.is_empty() && v.contains(k)) {
                    self.error(
                        start,
                        len,
                        format!("the value of {VAR_PREFIX}{name} contains the API key"),
                        "the API key is never written into the account or shown in a plan; fix the variable",
                    );
                } else {
                    out.push_str(&v);
                }
            }
            (None, Some(d)) => out.push_str(&d),
            (None, None) => {
                let hint = if (self.vars.env)(&name).is_some() {
                    format!(
                        "{name} is set, but manifests read only variables exported for them: export {VAR_PREFIX}{name}"
                    )
                } else {
                    format!("export {VAR_PREFIX}{name}=..., or give a default: ${{{name}:-value}}")
                };
                self.error(
                    start,
                    len,
                    format!("variable `{name}` is not set (manifests read it from {VAR_PREFIX}{name})"),
                    hint,
                );
            }
        }
        end + 1
    }
}

/// A secret field's reference: exactly `${NAME}` (see [`SecretRef::parse`]). Returns NAME, whose value is
/// read from `SKYFORM_SECRET_NAME` when a request needs it.
pub fn secret_reference(s: &str) -> Result<String, InterpolationError> {
    SecretRef::parse(s).map(|r| r.var).map_err(|message| InterpolationError {
        offset: 0,
        len: s.chars().count(),
        message,
        hint: format!(
            "write `${{NAME}}` and export {SECRET_PREFIX}NAME where skyform applies; secrets never live in manifests"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SKYFORM_VAR_HOST" => Some("crm.example".into()),
            "SKYFORM_VAR_KEYED" => Some("x-the-api-key-x".into()),
            "PLAIN" => Some("p".into()),
            _ => None,
        }
    }

    fn run(s: &str) -> Result<String, Vec<InterpolationError>> {
        interpolate(s, &Vars { env: &env, api_key: Some("the-api-key".into()) })
    }

    #[test]
    fn replaces_defaults_and_escapes() {
        assert_eq!(run("https://${HOST}/h").unwrap(), "https://crm.example/h");
        assert_eq!(run("${PORT:-443}").unwrap(), "443");
        assert_eq!(run("${EMPTY:-}").unwrap(), "");
        assert_eq!(run("costs $$5, ${HOST:-x}").unwrap(), "costs $5, crm.example");
        assert_eq!(run("plain $ sign").unwrap(), "plain $ sign");
        assert_eq!(run("${UNSET:-x$$y}").unwrap(), "x$y");
        assert_eq!(run("${UNSET:-${HOST}}").unwrap(), "crm.example");
        assert_eq!(run("${UNSET:-${ALSO:-deep}}").unwrap(), "deep");
        assert_eq!(run("${HOST:-${UNSET}}").unwrap(), "crm.example", "an unused default is not resolved");
        assert_eq!(run("$${HOST}").unwrap(), "${HOST}");
    }

    #[test]
    fn reports_every_problem_with_its_offset() {
        let errs = run("${A}/${HOST}/${B}").unwrap_err();
        assert_eq!(errs.iter().map(|e| e.offset).collect::<Vec<_>>(), [0, 13]);
        assert!(errs[0].message.contains("`A`") && errs[0].message.contains("SKYFORM_VAR_A"));
        assert!(run("${1X}").unwrap_err()[0].message.contains("not a variable"));
        assert!(run("${OPEN").unwrap_err()[0].message.contains("not closed"));
        assert!(run("${UNSET:-${PW}").unwrap_err().iter().any(|e| e.message.contains("not closed")));
        assert!(run("${PLAIN}").unwrap_err()[0].hint.contains("export SKYFORM_VAR_PLAIN"));
    }

    #[test]
    fn the_key_and_settings_are_never_read() {
        for s in ["${SKYLIGHT_API_KEY}", "k=${SKYLIGHT_API_KEY:-x}", "${SKYFORM_VAR_HOST}", "${skyform_x}"] {
            assert!(run(s).unwrap_err()[0].message.contains("cannot be interpolated"), "{s}");
        }
        assert!(run("${KEYED}").unwrap_err()[0].message.contains("contains the API key"));
    }

    #[test]
    fn secrets_are_bare_references() {
        assert_eq!(secret_reference("${LAYLA_PASSWORD}").unwrap(), "LAYLA_PASSWORD");
        for bad in ["hunter2-literal", "${A:-x}", "pre-${A}", "${1}", "${SKYLIGHT_API_KEY}"] {
            assert!(secret_reference(bad).is_err(), "{bad}");
        }
    }

    /// The grammar over any input: `$$` escapes round-trip, a used default is the escaped text it holds,
    /// nothing panics, and a `${` reaches the output only when the input wrote it as `$${`.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Text built from the grammar's own pieces, so the interesting cases are common.
        fn grammar_text() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("$".to_string()),
                Just("$$".to_string()),
                Just("${".to_string()),
                Just("}".to_string()),
                Just(":-".to_string()),
                Just("HOST".to_string()),
                Just("UNSET".to_string()),
                Just("${HOST}".to_string()),
                Just("${UNSET:-".to_string()),
                "[a-z é{}:-]{0,4}",
            ];
            proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
        }

        fn escape(s: &str) -> String {
            s.replace('$', "$$")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn escaped_text_round_trips(s in any::<String>()) {
                prop_assert_eq!(run(&escape(&s)).unwrap(), s);
            }

            #[test]
            fn a_used_default_is_its_text_unescaped(s in any::<String>()) {
                // `}` ends a default; text holding one is covered by the property below.
                prop_assume!(!s.contains('}'));
                prop_assert_eq!(run(&format!("${{UNSET:-{}}}", escape(&s))).unwrap(), s.clone());
                prop_assert_eq!(run(&format!("${{UNSET:-${{ALSO:-{}}}}}", escape(&s))).unwrap(), s.clone());
                prop_assert_eq!(run(&format!("${{HOST:-{}}}", escape(&s))).unwrap(), "crm.example");
            }

            #[test]
            fn no_literal_reference_reaches_the_output(s in grammar_text()) {
                // Never panics; on success a `${` in the output comes from a `$` written `$$` in the input
                // (`$${`, or a default `$$` followed by `{`): the one variable's value has no `$`.
                if let Ok(out) = run(&s) {
                    if out.contains("${") {
                        prop_assert!(s.contains("$$"), "{s:?} gave {out:?}");
                    }
                    if !s.contains('$') {
                        prop_assert_eq!(out, s);
                    }
                }
            }
        }
    }
}
