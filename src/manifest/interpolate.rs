//! `${VAR}` and `${VAR:-default}` in any manifest string; `$$` writes a literal `$`.

/// What went wrong at which character of the string.
#[derive(Debug, PartialEq)]
pub struct InterpolationError {
    /// Character offset of the `$` that starts the reference.
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub hint: String,
}

/// Replaces every reference; collects every error rather than stopping at the first.
pub fn interpolate(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<InterpolationError>> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut errors = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('$', Some('$')) => {
                out.push('$');
                i += 2;
            }
            ('$', Some('{')) => {
                let Some(close) = chars[i + 2..].iter().position(|c| *c == '}').map(|p| p + i + 2) else {
                    errors.push(InterpolationError {
                        offset: i,
                        len: chars.len() - i,
                        message: "`${` is not closed by `}`".into(),
                        hint: "write ${NAME} or ${NAME:-default}; write $$ for a literal $".into(),
                    });
                    break;
                };
                let inner: String = chars[i + 2..close].iter().collect();
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner.as_str(), None),
                };
                let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    errors.push(InterpolationError {
                        offset: i,
                        len: close - i + 1,
                        message: format!("`${{{inner}}}` is not a variable reference"),
                        hint: "names are letters, digits and _, e.g. ${CRM_WEBHOOK_URL}; write $$ for a literal $"
                            .into(),
                    });
                } else {
                    match (env(name), default) {
                        (Some(v), _) => out.push_str(&v),
                        (None, Some(d)) => out.push_str(d),
                        (None, None) => errors.push(InterpolationError {
                            offset: i,
                            len: close - i + 1,
                            message: format!("environment variable `{name}` is not set"),
                            hint: format!("set {name}, or give a default: ${{{name}:-value}}"),
                        }),
                    }
                }
                i = close + 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "crm.example".to_string())
    }

    #[test]
    fn replaces_defaults_and_escapes() {
        assert_eq!(interpolate("https://${HOST}/h", &env).unwrap(), "https://crm.example/h");
        assert_eq!(interpolate("${PORT:-443}", &env).unwrap(), "443");
        assert_eq!(interpolate("${EMPTY:-}", &env).unwrap(), "");
        assert_eq!(interpolate("costs $$5, ${HOST:-x}", &env).unwrap(), "costs $5, crm.example");
        assert_eq!(interpolate("plain $ sign", &env).unwrap(), "plain $ sign");
    }

    #[test]
    fn reports_every_missing_variable_with_its_offset() {
        let errs = interpolate("${A}/${HOST}/${B}", &env).unwrap_err();
        assert_eq!(errs.iter().map(|e| e.offset).collect::<Vec<_>>(), [0, 13]);
        assert!(errs[0].message.contains("`A`"));
        assert!(interpolate("${1X}", &env).unwrap_err()[0].message.contains("not a variable"));
        assert!(interpolate("${OPEN", &env).unwrap_err()[0].message.contains("not closed"));
    }
}
