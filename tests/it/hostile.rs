//! Hostile input, hostile servers, hostile networks, the way a pull request, a misbehaving server or an
//! ordinary CI runner would attack skyform. Every test runs the real binary and asserts two things: the
//! secret appears in no output, and nothing reached a host it should not reach.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_skyform");
const KEY: &str = "sk-live-hostile-KEY-8d7f6e";
const PASSWORD: &str = "Pa55-word-echo-42";

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs skyform with a clean environment plus `env`, killing it after 60 s: a hang fails the test.
fn skyform(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    skyform_as(args, dir, env, None)
}

fn skyform_as(args: &[&str], dir: &Path, env: &[(&str, &str)], wrapper: Option<&[&str]>) -> Output {
    let mut cmd = match wrapper {
        Some(w) => {
            let mut c = Command::new(w[0]);
            c.args(&w[1..]).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    cmd.args(args).current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("skyform {args:?} hung; stderr so far:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The secret appears nowhere in what skyform printed.
fn assert_clean(out: &Output, secrets: &[&str]) {
    let all = text(out);
    for s in secrets {
        assert!(!all.contains(s), "`{s}` leaked:\n{all}");
    }
}

/// A server that records every request it gets and answers what `respond` says: (status, extra headers,
/// body). Blocking, one thread per connection; it runs until the test process ends.
struct Evil {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

type Respond = dyn Fn(&str, &str, &str) -> (u16, Vec<(String, String)>, String) + Send + Sync;

impl Evil {
    fn start(
        ip: &str,
        respond: impl Fn(&str, &str, &str) -> (u16, Vec<(String, String)>, String) + Send + Sync + 'static,
    ) -> Evil {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (log, respond): (_, Arc<Respond>) = (seen.clone(), Arc::new(respond));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, respond) = (log.clone(), respond.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    let raw = format!("{head}\r\n{}", String::from_utf8_lossy(&body));
                    log.lock().unwrap().push(raw.clone());
                    let mut first = head.lines().next().unwrap_or("").split(' ');
                    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
                    let (status, headers, body) = respond(method, path, &raw);
                    let mut out = stream;
                    let mut answer = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n");
                    for (k, v) in headers {
                        answer.push_str(&format!("{k}: {v}\r\n"));
                    }
                    answer.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
                    let _ = out.write_all(answer.as_bytes());
                });
            }
        });
        Evil { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// An answer that echoes the whole request (headers with the key, body with the password), as a debug page
/// or a misconfigured gateway would.
fn echo(status: u16, raw: &str) -> (u16, Vec<(String, String)>, String) {
    let body = serde_json::json!({
        "success": false,
        "message": format!("echo: {raw}"),
        "errors": {"password": [format!("you sent {raw}")], raw.to_string(): ["key echoed as a field name"]}
    });
    (status, Vec::new(), body.to_string())
}

/// What a server answers the lease's requests (`/tags`): a created tag, no other tags, deletes done.
fn lease_answer(method: &str) -> (u16, Vec<(String, String)>, String) {
    match method {
        "POST" => (
            201,
            Vec::new(),
            r#"{"success":true,"data":{"id":1,"title":"t","contacts_count":0},"message":"ok"}"#.into(),
        ),
        "DELETE" | "PUT" => (204, Vec::new(), String::new()),
        _ => empty_list(),
    }
}

fn empty_list() -> (u16, Vec<(String, String)>, String) {
    (200, Vec::new(), r#"{"success":true,"data":[],"message":"ok"}"#.to_string())
}

fn api_env(url: &str) -> Vec<(&'static str, String)> {
    vec![("SKYLIGHT_API_KEY", KEY.to_string()), ("SKYLIGHT_API_URL", url.to_string())]
}

fn refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

const TEAM_MANIFEST: &str =
    "team:\n  - email: layla@example.com\n    name: Layla\n    role: admin\n    password: ${PW}\n";

// ------------------------------------------------------------------------------------------- the folder

#[cfg(unix)]
#[test]
fn manifest_symlinks_that_leave_the_folder_are_refused_unread() {
    let dir = tempdir("symlinks");
    std::fs::create_dir_all(dir.join("set")).unwrap();
    std::fs::write(dir.join("set/agents.yaml"), "agents:\n  - name: A\n    system_prompt: p\n").unwrap();
    std::fs::write(dir.join("outside.yaml"), format!("SKYLIGHT_API_KEY={KEY}\nPATH=/bin\n")).unwrap();
    std::fs::write(
        dir.join("valid-outside.yaml"),
        "webhooks:\n  - name: Out\n    url: https://o.test\n    events: [message.sent]\n",
    )
    .unwrap();
    let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, dir.join("set").join(name)).unwrap();
    link(&dir.join("outside.yaml"), "env.yaml");
    link(Path::new("/proc/self/environ"), "environ.yaml");
    link(Path::new("/etc/passwd"), "passwd.yaml");
    link(&dir.join("valid-outside.yaml"), "hooks.yaml");
    link(Path::new("/dev/urandom"), "random.yml");
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("set/more")).unwrap();
    let env = [("SKYLIGHT_API_KEY", KEY)];
    for args in [
        vec!["validate", "set"],
        vec!["plan", "--sandbox", "set"],
        vec!["plan", "--sandbox", "set", "--format", "markdown"],
        vec!["plan", "--sandbox", "set", "--format", "json"],
    ] {
        let out = skyform(&args, &dir, &env);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let all = text(&out);
        let json = args.contains(&"json");
        for name in ["env.yaml", "environ.yaml", "passwd.yaml", "hooks.yaml", "random.yml", "set/more"] {
            let shown = if json {
                format!("\"set/{}\"", name.trim_start_matches("set/"))
            } else {
                format!("{name}: this symlink leads outside the manifest folder")
            };
            assert!(all.contains(&shown), "{name}: {all}");
        }
        assert!(all.contains("this symlink leads outside the manifest folder"), "{all}");
        assert_clean(&out, &[KEY, "root:x:0", "PATH=/bin"]);
    }
    // Given directly, a symlink out of its own folder is refused too.
    let out = skyform(&["validate", "set/env.yaml"], &dir, &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("leads outside the folder"), "{}", text(&out));
    assert_clean(&out, &[KEY]);
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_refused_without_being_opened() {
    let dir = tempdir("fifo");
    std::fs::create_dir_all(dir.join("set")).unwrap();
    std::fs::write(dir.join("set/agents.yaml"), "agents:\n  - name: A\n    system_prompt: p\n").unwrap();
    assert!(Command::new("mkfifo").arg(dir.join("set/pipe.yaml")).status().unwrap().success());
    // Each of these would hang or eat memory if it were read; `skyform` has 60 s before the test fails.
    let out = skyform(&["validate", "set"], &dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("set/pipe.yaml: not a regular file (a FIFO)"), "{}", text(&out));
    let out = skyform(&["validate", "set/pipe.yaml"], &dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("not a regular file (a FIFO)"), "{}", text(&out));
    for device in ["/dev/zero", "/dev/urandom"] {
        let out = skyform(&["validate", device], &dir, &[]);
        assert_eq!(out.status.code(), Some(1), "{device}");
        assert!(text(&out).contains("not a regular file (a device)"), "{}", text(&out));
    }
    // A `{file:}` text that is a FIFO inside the folder.
    std::fs::remove_file(dir.join("set/pipe.yaml")).unwrap();
    assert!(Command::new("mkfifo").arg(dir.join("set/prompt.md")).status().unwrap().success());
    std::fs::write(dir.join("set/agents.yaml"), "agents:\n  - name: A\n    system_prompt: { file: prompt.md }\n")
        .unwrap();
    let out = skyform(&["validate", "set"], &dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("not a regular file (a FIFO)"), "{}", text(&out));
}

#[test]
fn a_nul_byte_is_an_error_not_the_end_of_the_manifest() {
    let dir = tempdir("nul");
    std::fs::write(
        dir.join("sandbox.json"),
        r#"{"webhooks": [{"name": "Keep", "url": "https://k.test", "events": ["message.sent"]}]}"#,
    )
    .unwrap();
    // Everything after the NUL would vanish for a scanner that stops there, and prune would delete `Keep`.
    let yaml = "settings:\n  prune: [webhooks]\n\0webhooks:\n  - name: Keep\n    url: https://k.test\n    events: [message.sent]\n";
    std::fs::write(dir.join("hooks.yaml"), yaml).unwrap();
    for args in [vec!["validate", "."], vec!["plan", "--sandbox", "."]] {
        let out = skyform(&args, &dir, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out).contains("hooks.yaml:3:1: the manifest contains a NUL byte (line 3)"), "{}", text(&out));
        assert!(!text(&out).contains("delete"), "{}", text(&out));
    }
    // In a `{file:}` text too.
    std::fs::write(dir.join("hooks.yaml"), "agents:\n  - name: A\n    system_prompt: { file: p.md }\n").unwrap();
    std::fs::write(dir.join("p.md"), "binary\0stuff").unwrap();
    let out = skyform(&["validate", "."], &dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("contains a NUL byte"), "{}", text(&out));
}

#[cfg(unix)]
#[test]
fn an_unreadable_folder_or_file_is_an_error_that_names_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("unreadable");
    std::fs::create_dir_all(dir.join("set/private")).unwrap();
    std::fs::write(dir.join("set/agents.yaml"), "agents:\n  - name: A\n    system_prompt: p\n").unwrap();
    std::fs::write(dir.join("set/private/hooks.yaml"), "webhooks: []\n").unwrap();
    std::fs::write(dir.join("set/locked.yaml"), "team: []\n").unwrap();
    std::fs::set_permissions(dir.join("set/private"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(dir.join("set/locked.yaml"), std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads everything: drop to `nobody` for this one run.
    let root = unsafe { libc::geteuid() } == 0;
    let wrapper: Option<&[&str]> = root.then_some(&["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"][..]);
    if root && Command::new("setpriv").arg("--version").output().is_err() {
        panic!("this test needs a non-root user or setpriv (util-linux) to drop root's read-everything rights");
    }
    let out = skyform_as(&["validate", "set"], &dir, &[], wrapper);
    std::fs::set_permissions(dir.join("set/private"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("set/private: cannot read: permission denied"), "{all}");
    assert!(all.contains("set/locked.yaml: cannot read: permission denied"), "{all}");
}

#[test]
fn upper_case_extensions_are_manifests_and_other_yaml_can_be_ignored() {
    let dir = tempdir("discovery");
    std::fs::create_dir_all(dir.join("openapi")).unwrap();
    std::fs::write(dir.join("C.YAML"), "webhooks:\n  - name: C\n    url: https://c.test\n    events: [message.sent]\n")
        .unwrap();
    std::fs::write(dir.join("Team.Yml"), "team: []\n").unwrap();
    std::fs::write(dir.join("openapi/spec.yaml"), "openapi: 3.1.0\ninfo: {title: x}\n").unwrap();
    let out = skyform(&["validate", "."], &dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("openapi/spec.yaml:1:1: not a skyform manifest"), "{}", text(&out));
    assert!(!text(&out).contains("3.1.0"), "the content of a file that is not a manifest is never quoted");
    std::fs::write(dir.join(".skyformignore"), "openapi/\n").unwrap();
    let out = skyform(&["validate", "."], &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("1 webhook") && text(&out).contains("(0 prompts, 2 files)"), "{}", text(&out));
}

#[test]
fn prune_deletes_only_what_no_file_declares_and_is_refused_while_a_yaml_file_is_not_read() {
    let dir = tempdir("prune-discovery");
    let live = r#"{"webhooks": [
        {"name": "C", "url": "https://c.test", "events": ["message.sent"]},
        {"name": "D", "url": "https://d.test", "events": ["message.sent"]}]}"#;
    std::fs::create_dir_all(dir.join("m")).unwrap();
    std::fs::write(dir.join("m/sandbox.json"), live).unwrap();
    std::fs::write(
        dir.join("m/C.YAML"),
        "webhooks:\n  - name: C\n    url: https://c.test\n    events: [message.sent]\n",
    )
    .unwrap();
    std::fs::write(dir.join("m/settings.Yml"), "settings:\n  prune: [webhooks]\n").unwrap();
    let plan = |dir: &Path| skyform(&["plan", "m", "--sandbox", "--format", "json"], dir, &[]);
    let out = plan(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes: Vec<String> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["op"].as_str().unwrap(), c["key"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, ["delete D"], "C is declared by C.YAML and kept");

    // A hidden YAML file is not read: said so, and prune is refused until it is dealt with.
    std::fs::create_dir_all(dir.join("m/.old")).unwrap();
    std::fs::write(
        dir.join("m/.old/d.yaml"),
        "webhooks:\n  - name: D\n    url: https://d.test\n    events: [message.sent]\n",
    )
    .unwrap();
    let out = plan(&dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains(r#""file": "m/.old/d.yaml""#)
            && all.contains("prune (webhooks) is refused: this hidden YAML file was not read"),
        "{all}"
    );
    let out = skyform(&["validate", "m"], &dir, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("m/.old/d.yaml: warning: a hidden YAML file"), "{}", text(&out));

    // Listing it in .skyformignore is the documented way to say it holds no manifests.
    std::fs::write(dir.join("m/.skyformignore"), ".old/\n").unwrap();
    let out = plan(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // `.git` is never entered.
    std::fs::create_dir_all(dir.join("m/.git")).unwrap();
    std::fs::write(dir.join("m/.git/config.yaml"), "x: 1\n").unwrap();
    assert_eq!(plan(&dir).status.code(), Some(0));
}

// ------------------------------------------------------------------------------------------ interpolation

#[test]
fn the_key_and_other_process_variables_cannot_be_interpolated() {
    let dir = tempdir("interp");
    std::fs::write(dir.join("sandbox.json"), "{}").unwrap();
    let env = [
        ("SKYLIGHT_API_KEY", KEY),
        ("SKYFORM_VAR_SKYLIGHT_API_KEY", KEY),
        ("GITHUB_TOKEN", "ghp_notForManifests123"),
        ("SKYFORM_VAR_LEAKY", KEY),
    ];
    for yaml in [
        "agents:\n  - name: \"k=${SKYLIGHT_API_KEY}\"\n    system_prompt: p\n",
        "agents:\n  - name: \"k=${GITHUB_TOKEN}\"\n    system_prompt: p\n",
        "agents:\n  - name: \"k=${LEAKY}\"\n    system_prompt: p\n",
        "agents:\n  - name: A\n    system_prompt: \"${UNSET:-${SKYLIGHT_API_KEY}}\"\n",
    ] {
        std::fs::write(dir.join("a.yaml"), yaml).unwrap();
        for args in [
            vec!["validate", "."],
            vec!["plan", "--sandbox", "."],
            vec!["plan", "--sandbox", ".", "--format", "markdown"],
            vec!["plan", "--sandbox", ".", "--format", "json"],
        ] {
            let out = skyform(&args, &dir, &env);
            assert_eq!(out.status.code(), Some(1), "{yaml} {args:?}: {}", text(&out));
            assert!(
                text(&out).contains("a.yaml:") || text(&out).contains("\"file\": \"./a.yaml\""),
                "located: {}",
                text(&out)
            );
            assert_clean(&out, &[KEY, "ghp_notForManifests123"]);
        }
    }
}

#[test]
fn a_password_cannot_be_interpolated_into_a_field_that_is_shown() {
    let dir = tempdir("pwname");
    std::fs::write(dir.join("sandbox.json"), "{}").unwrap();
    let env = [("SKYFORM_SECRET_PW", PASSWORD), ("PW", PASSWORD)];
    for yaml in [
        "team:\n  - email: l@example.com\n    name: ${PW}\n    role: admin\n    password: ${PW}\n",
        "team:\n  - email: l@example.com\n    name: L\n    role: \"${PW:-admin}\"\n    password: ${PW}\n",
        "team:\n  - email: l@example.com\n    name: L\n    role: admin\n    password: \"x-${PW}\"\n",
    ] {
        std::fs::write(dir.join("t.yaml"), yaml).unwrap();
        for args in
            [vec!["validate", "."], vec!["plan", "--sandbox", "."], vec!["plan", "--sandbox", ".", "--format", "json"]]
        {
            let out = skyform(&args, &dir, &env);
            assert_clean(&out, &[PASSWORD]);
            let shown = yaml.contains("name: ${PW}");
            if shown {
                assert_eq!(out.status.code(), Some(1), "{yaml}: {}", text(&out));
            }
        }
    }
}

// --------------------------------------------------------------------------------------- hostile servers

#[test]
fn an_echoing_server_never_makes_skyform_print_the_key_or_a_password() {
    let dir = tempdir("echo");
    std::fs::write(dir.join("t.yaml"), TEAM_MANIFEST).unwrap();
    for status in [401, 422, 500] {
        let server = Evil::start("127.0.0.1", move |method, path, raw| {
            if status == 422 && path.starts_with("/api/v1/tags") {
                lease_answer(method)
            } else if status == 422 && method == "GET" {
                empty_list()
            } else {
                echo(status, raw)
            }
        });
        let mut env = api_env(&server.url());
        env.push(("SKYFORM_SECRET_PW", PASSWORD.into()));
        let runs = if status == 422 {
            vec![vec!["apply", ".", "-v", "--auto-approve"]]
        } else {
            vec![
                vec!["plan", ".", "-v"],
                vec!["plan", ".", "-v", "--format", "markdown"],
                vec!["apply", ".", "-v", "--auto-approve"],
            ]
        };
        for args in runs {
            let out = skyform(&args, &dir, &refs(&env));
            assert_eq!(out.status.code(), Some(1), "{status} {args:?}: {}", text(&out));
            assert_clean(&out, &[KEY, PASSWORD]);
            assert!(text(&out).contains("(redacted)"), "the echo was shown, scrubbed: {}", text(&out));
        }
        // The server really did receive (and echo) both.
        let seen = server.requests().join("\n");
        assert!(seen.contains(KEY));
        if status == 422 {
            assert!(seen.contains(PASSWORD), "the password was sent on create");
        }
    }
}

#[test]
fn redirects_are_errors_and_the_other_host_receives_nothing() {
    let dir = tempdir("redirect");
    std::fs::write(dir.join("t.yaml"), TEAM_MANIFEST).unwrap();
    // 127.0.0.2 is another loopback address: another host, as far as the key is concerned.
    let other = Evil::start("127.0.0.2", |_, _, _| empty_list());
    for status in [301, 302, 303, 307, 308] {
        let target = format!("http://{}/api/v1/team?token=abc", other.addr);
        let server = Evil::start("127.0.0.1", move |method, path, _| {
            if path.starts_with("/api/v1/tags") && status != 301 {
                lease_answer(method)
            } else if method == "GET" && status != 301 {
                empty_list()
            } else {
                let _ = path;
                (status, vec![("Location".into(), target.clone())], String::new())
            }
        });
        let mut env = api_env(&server.url());
        env.push(("SKYFORM_SECRET_PW", PASSWORD.into()));
        let args: &[&str] = if status == 301 { &["plan", "."] } else { &["apply", ".", "--auto-approve"] };
        let out = skyform(args, &dir, &refs(&env));
        assert_eq!(out.status.code(), Some(1), "{status}: {}", text(&out));
        assert!(
            text(&out).contains(&format!("answered {status}: a redirect to http://{}/api/v1/team", other.addr)),
            "{}",
            text(&out)
        );
        assert_clean(&out, &[KEY, PASSWORD, "token=abc"]);
        assert!(!server.requests().is_empty());
    }
    assert!(other.requests().is_empty(), "the other host received: {:?}", other.requests());
}

#[test]
fn proxy_variables_never_carry_the_plain_http_loopback_api() {
    let proxy = Evil::start("127.0.0.1", |_, _, _| (502, Vec::new(), String::new()));
    let url = format!("http://{}", proxy.addr);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let env = [
        ("HTTP_PROXY", url.as_str()),
        ("http_proxy", url.as_str()),
        ("ALL_PROXY", url.as_str()),
        ("all_proxy", url.as_str()),
        ("HTTPS_PROXY", url.as_str()),
    ];
    let out = skyform(&["plan", "--sandbox", "examples/minimal"], &root, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(proxy.requests().is_empty(), "the proxy received: {:?}", proxy.requests());
}

#[test]
fn credentials_in_the_api_url_are_refused_without_echo() {
    let dir = tempdir("urlcreds");
    std::fs::write(dir.join("a.yaml"), "agents: []\n").unwrap();
    for url in [
        "https://user:hunter2pass@api.test/api/v1",
        "http://user:hunter2pass@127.0.0.1:9/api/v1",
        "ftp://user:hunter2pass@host/x",
        "not a url user:hunter2pass@",
    ] {
        let out = skyform(&["plan", ".", "--api-url", url], &dir, &[("SKYLIGHT_API_KEY", KEY)]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert_clean(&out, &["hunter2pass", KEY]);
        let out = skyform(&["plan", "."], &dir, &[("SKYLIGHT_API_KEY", KEY), ("SKYLIGHT_API_URL", url)]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert_clean(&out, &["hunter2pass", KEY]);
    }
    // A webhook URL with credentials in a manifest is a located error that does not echo them either.
    std::fs::write(
        dir.join("a.yaml"),
        "webhooks:\n  - name: W\n    url: https://bob:hunter2pass@crm.test/h\n    events: [message.sent]\n",
    )
    .unwrap();
    let out = skyform(&["validate", "."], &dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("a.yaml:3:10: url `https://crm.test/h` has credentials in it"), "{}", text(&out));
    assert_clean(&out, &["hunter2pass"]);
}

#[cfg(unix)]
#[test]
fn the_sandbox_state_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("state");
    let state = dir.join("state.json");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out =
        skyform(&["plan", "--sandbox", "examples/minimal", "--sandbox-state", state.to_str().unwrap()], &root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the state holds webhook secrets");
}
