#![allow(clippy::disallowed_macros)] // a benchmark prints its figures
//! Loading speed: 10,000 entries across 100 files (all kinds, texts from files, interpolation).
//! Run: `cargo bench --bench load`. Prints the median of several runs; no assertion (see tests for behaviour).

use std::path::Path;
use std::time::{Duration, Instant};

fn write_set(dir: &Path, files: usize, per_file: usize) {
    std::fs::create_dir_all(dir.join("texts")).unwrap();
    std::fs::write(dir.join("texts/prompt.md"), "You are a helpful assistant.\n".repeat(20)).unwrap();
    for f in 0..files {
        let mut y = String::from("# yaml-language-server: $schema=../schemas/manifest.schema.json\n");
        let kind = f % 5;
        let section = ["agents", "knowledge_base", "webhooks", "team", "campaigns"][kind];
        y.push_str(&format!("{section}:\n"));
        for i in 0..per_file {
            let n = f * per_file + i;
            y.push_str(&match kind {
                0 => format!("  - name: Agent {n}\n    system_prompt: {{ file: texts/prompt.md }}\n    response_guidelines: {{ tone: friendly, language: English }}\n    is_active: true\n"),
                1 => format!("  - title: Entry {n}\n    type: text\n    description: About topic {n}\n    content: Text of entry {n}, long enough to be realistic for a knowledge base body.\n"),
                2 => format!("  - name: Hook {n}\n    url: ${{HOOK_URL:-https://hooks.example.com/{n}}}\n    events: [contact.created, message.received, order.created]\n"),
                3 => format!("  - email: member{n}@example.com\n    name: Member {n}\n    role: agent\n"),
                _ => format!("  - name: Campaign {n}\n    channel: whatsapp\n    audience: {{ lists: [List {n}] }}\n    message: Hello from campaign {n}\n    state: draft\n"),
            });
        }
        std::fs::write(dir.join(format!("m{f:03}.yaml")), y).unwrap();
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("skyform-bench-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_set(&dir, 100, 100);
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let set = skyform::manifest::load(std::slice::from_ref(&dir), &skyform::manifest::process_env)
            .unwrap_or_else(|p| panic!("{}", p.render()));
        times.push(t.elapsed());
        let total =
            set.agents.len() + set.knowledge_base.len() + set.webhooks.len() + set.team.len() + set.campaigns.len();
        assert_eq!(total, 10_000);
    }
    times.sort();
    println!(
        "load: 10,000 entries in 100 files: median {:.1} ms (min {:.1} ms, max {:.1} ms, 7 runs)",
        times[3].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[6].as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
