//! The scrubber: the second wall between secrets and everything skyform prints or saves.
//!
//! The first wall is the redacting types ([`crate::api::ApiKey`], [`crate::resources::Secret`]): they never
//! show their value. But text that did not come from our types can still carry a secret: an error body in
//! which a server echoes the request (a debug page, a gateway), a 422 that quotes a password, a URL with
//! credentials in it. So every secret value a run learns is [`register`]ed here (the API key, each password
//! resolved to be sent, each webhook secret captured, each URL's credentials), and every text on its way to
//! stdout, stderr, a plan file, a Markdown comment or a log line passes [`scrub`], which replaces those
//! values with `(redacted)`, and the password part of any `scheme://user:password@host` with `(redacted)`.
//!
//! The registry is process-wide: a secret learned anywhere is removed everywhere. A value shorter than
//! [`MIN_LEN`] bytes is not registered, since removing it from every text would garble the text without
//! protecting anything (the API's passwords are at least 8 characters).

use std::borrow::Cow;
use std::sync::RwLock;

/// Shorter values are not registered.
pub const MIN_LEN: usize = 4;
/// What a secret is replaced with.
pub const MASK: &str = "(redacted)";

/// Every registered form, longest first, and the set of their first [`MIN_LEN`] bytes: a text none of
/// whose windows is in the set holds no secret, so the common case costs one pass over the text, however
/// many secrets a run registered (an apply that creates 1,500 webhooks registers 1,500).
struct Registry {
    secrets: Vec<String>,
    /// A bit per 16-bit hash of the prefixes: most windows of most texts miss it at the cost of a shift.
    bits: Vec<u64>,
}

static SECRETS: RwLock<Registry> = RwLock::new(Registry { secrets: Vec::new(), bits: Vec::new() });

/// The 16-bit hash of a window's first [`MIN_LEN`] bytes (multiplicative hashing of the bytes as a u32).
fn window_hash(w: &[u8]) -> Option<usize> {
    let v = u32::from_le_bytes(w.get(..MIN_LEN)?.try_into().ok()?);
    Some((v.wrapping_mul(0x9E37_79B1) >> 16) as usize)
}

/// Remembers a secret value, in its raw form and in the escaped form it takes inside a JSON string, so
/// that neither a line of text nor a saved plan can carry it.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_LEN {
        return;
    }
    let mut forms = vec![secret.to_string()];
    if let Ok(json) = serde_json::to_string(secret) {
        let inner = json[1..json.len() - 1].to_string();
        if inner != secret {
            forms.push(inner);
        }
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for f in forms {
        if !all.secrets.contains(&f) {
            if let Some(h) = window_hash(f.as_bytes()) {
                if all.bits.is_empty() {
                    all.bits = vec![0; 1 << 10];
                }
                all.bits[h >> 6] |= 1 << (h & 63);
            }
            // Longest first: a secret that contains another is removed whole.
            let at = all.secrets.partition_point(|s| s.len() >= f.len());
            all.secrets.insert(at, f);
        }
    }
}

/// `text` without any registered secret and without URL passwords.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let registry = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out: Cow<str> = Cow::Borrowed(text);
    let bits = &registry.bits;
    let maybe = !bits.is_empty()
        && text
            .as_bytes()
            .windows(MIN_LEN)
            .any(|w| window_hash(w).is_some_and(|h| bits[h >> 6] & (1 << (h & 63)) != 0));
    if maybe {
        for s in registry.secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
    }
    if out.contains("://") {
        if let Some(clean) = strip_url_passwords(&out) {
            out = Cow::Owned(clean);
        }
    }
    out
}

/// `scheme://user:password@host` → `scheme://user:(redacted)@host`, wherever it appears in `text`;
/// None when there is none.
fn strip_url_passwords(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first of these; userinfo is what precedes its last `@`.
        let end = tail.find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace());
        let authority = &tail[..end.unwrap_or(tail.len())];
        match authority.rfind('@').and_then(|a| authority[..a].find(':').map(|c| (c, a))) {
            Some((colon, atsign)) if colon + 1 < atsign && &authority[colon + 1..atsign] != MASK => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[atsign..]);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority.len()..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// A URL for messages: scheme, host, port and path, never credentials, query or fragment (either may
/// carry a token). Text that is not a URL is shown as `(not a URL)`.
pub fn url_for_display(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(u) if u.username().is_empty() && u.password().is_none() && u.query().is_none() && u.fragment().is_none() => {
            scrub(raw).into_owned()
        }
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) if raw.contains('@') || raw.contains("://") => "(not a URL)".into(),
        Err(_) => scrub(raw).into_owned(),
    }
}

/// Writes to stdout, scrubbed. Everything skyform prints goes through this or [`to_stderr`]
/// (`clippy.toml` forbids the print macros elsewhere).
#[allow(clippy::disallowed_macros)]
pub fn to_stdout(text: &str) {
    print!("{}", scrub(text));
}

/// Writes to stderr, scrubbed.
#[allow(clippy::disallowed_macros)]
pub fn to_stderr(text: &str) {
    eprint!("{}", scrub(text));
}

/// Text from outside (a server's error message): scrubbed, its control characters escaped, cut to `max`
/// characters, so that an echoing or hostile server can neither leak a secret through skyform nor redraw
/// the reader's terminal.
pub fn untrusted(text: &str, max: usize) -> String {
    let clean = escape_controls(&scrub(text)).into_owned();
    if clean.chars().count() > max {
        format!("{}…", clean.chars().take(max).collect::<String>())
    } else {
        clean
    }
}

/// True for characters that must never reach a terminal or a Markdown comment raw: C0 and C1 controls
/// (tab and newline included: callers that keep lines split first), DEL, and the bidirectional overrides
/// and isolates that make text display in another order than it reads (U+202A–U+202E, U+2066–U+2069).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// [`escape_controls`], keeping line breaks: for multi-line texts whose lines are shown as lines.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe_char(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.split('\n').map(|l| escape_controls(l).into_owned()).collect::<Vec<_>>().join("\n"))
}

/// Every unsafe character as a visible escape: `\u{1b}`, `\r`, `\n`, `\t`, `\u{202e}`.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A word as a POSIX shell reads it back: bare when it is safe, else in single quotes. For commands skyform
/// suggests (`skyform rotate 'webhooks/CRM sync'`), so they run as printed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `skyform WORDS... FLAGS...`, each word quoted for a shell: a command to print in a hint.
pub fn skyform_command(words: &[&str], flags: &[String]) -> String {
    let mut out = String::from("skyform");
    for w in words.iter().copied().chain(flags.iter().map(String::as_str)) {
        out.push(' ');
        out.push_str(&shell_quote(w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_and_url_passwords_are_removed() {
        register("unit-test-Secret-\"quoted\"");
        let json = serde_json::json!({"m": "key unit-test-Secret-\"quoted\" here"}).to_string();
        assert!(!scrub(&json).contains("unit-test-Secret"), "{}", scrub(&json));
        assert_eq!(scrub("x unit-test-Secret-\"quoted\" y"), "x (redacted) y");
        assert_eq!(scrub("see https://bob:hunter2@crm.test/h?x=1"), "see https://bob:(redacted)@crm.test/h?x=1");
        assert_eq!(scrub("ftp://u:p@h and http://plain.test/a@b"), "ftp://u:(redacted)@h and http://plain.test/a@b");
        assert_eq!(scrub("nothing here"), "nothing here");
        register("ab"); // too short to register
        assert_eq!(scrub("abc"), "abc");
    }

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        assert_eq!(url_for_display("https://u:p@api.test:8443/v1?token=x#f"), "https://api.test:8443/v1");
        assert_eq!(url_for_display("ftp://user:pass@host/x"), "ftp://host/x");
        assert_eq!(url_for_display("nope://user:pass@"), "(not a URL)");
    }
}
