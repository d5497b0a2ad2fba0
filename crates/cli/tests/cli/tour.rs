//! The README's tours, run as written (issue 13.12): every ```` ```sh tour ```` block of
//! README.md, in order, in one bash session, against a fresh `seatkeeper serve --demo` in a
//! temporary folder. Each command must succeed (or exit as an `[exit N]` line says) and each
//! `# → …` line must match the answer of the command above it, `…` standing for any text on
//! one line. So the README and the product cannot drift apart.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::bin;

/// One command of a tour and what the README says of its answer.
#[derive(Debug)]
struct Step {
    /// README line of the command's first line, for messages.
    line: usize,
    command: String,
    expected: Vec<String>,
    exit: i32,
}

/// The commands of the README's tour blocks, in order. A command runs to the end of its line,
/// over `\` continuations and here-documents; a `# → text` line belongs to the command above
/// it (`# → [exit N] text`: the command exits N); other comment lines are prose.
fn tour_steps(readme: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut lines = readme.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut in_tour = false;
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim();
        if !in_tour {
            in_tour = trimmed == "```sh tour";
            continue;
        }
        if trimmed == "```" {
            in_tour = false;
        } else if let Some(expect) = trimmed.strip_prefix("# →") {
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("README.md:{n}: `# →` before any command"));
            let mut expect = expect.trim();
            if let Some(rest) = expect.strip_prefix("[exit ") {
                let (code, rest) = rest
                    .split_once(']')
                    .unwrap_or_else(|| panic!("README.md:{n}: `[exit N]` without `]`"));
                step.exit = code.parse().expect("an exit status");
                expect = rest.trim();
            }
            if !expect.is_empty() {
                step.expected.push(expect.to_string());
            }
        } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
            let mut command = line.to_string();
            let mut last = line.to_string();
            while last.trim_end().ends_with('\\') {
                let (_, next) = lines.next().expect("a continued line");
                command.push('\n');
                command.push_str(next);
                last = next.to_string();
            }
            if let Some(word) = heredoc_word(&command) {
                loop {
                    let (_, next) = lines.next().expect("the end of a here-document");
                    command.push('\n');
                    command.push_str(next);
                    if next == word {
                        break;
                    }
                }
            }
            steps.push(Step {
                line: n,
                command,
                expected: vec![],
                exit: 0,
            });
        }
    }
    steps
}

/// The delimiter of a here-document opened on `command` (`<<'EOF'`, `<<EOF`), if any.
fn heredoc_word(command: &str) -> Option<String> {
    let (_, rest) = command.split_once("<<")?;
    let rest = rest.trim_start_matches('-').trim_start();
    let word: String = rest
        .trim_start_matches(['\'', '"'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

/// Whether one line of `output` holds the pieces of `pattern` (split at `…`) in order.
fn matches(output: &str, pattern: &str) -> bool {
    output.lines().any(|line| {
        let mut at = 0;
        pattern
            .split('…')
            .all(|piece| match line[at..].find(piece) {
                Some(i) => {
                    at += i + piece.len();
                    true
                }
                None => false,
            })
    })
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `seatkeeper serve --demo` in `dir` on a free port; its base URL once it listens.
fn serve_demo(dir: &Path) -> (Server, String) {
    let mut child = bin()
        .current_dir(dir)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .env("SEATKEEPER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("Seatkeeper listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let server = Server(child);
    let base = rx
        .recv_timeout(Duration::from_secs(40))
        .expect("the demo server did not start listening");
    (server, base)
}

/// The bash script that runs `steps` one after the other in one shell (variables and
/// functions carry over, as when pasted), each step's output and status into
/// `$TOUR_OUT/<i>` (an absolute path: the tours change directory).
fn script(steps: &[Step], exe: &str) -> String {
    let mut s = String::from("set -o pipefail\n");
    for (i, step) in steps.iter().enumerate() {
        // `cargo run -q --` in the README is the binary this test was built with.
        let command = step.command.replace("cargo run -q --", &format!("'{exe}'"));
        let _ = write!(
            s,
            "{{\n{command}\n}} >\"$TOUR_OUT/{i}\" 2>&1 </dev/null\necho $? >\"$TOUR_OUT/{i}.rc\"\n"
        );
    }
    s
}

#[test]
fn x13_12_readme_tours_hold_on_a_fresh_demo() {
    let started = Instant::now();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let steps = tour_steps(&readme);
    // Both tours are there (a lost fence marker must not turn this test into a no-op).
    assert!(
        steps
            .iter()
            .any(|s| s.command.contains("/integration/v1/login"))
            && steps.iter().any(|s| s.command.contains("redistributions"))
            && steps.iter().any(|s| s.command.contains("seatkeeper grant"))
            && steps.iter().any(|s| s.command.contains("vendor issue"))
            && steps.iter().filter(|s| !s.expected.is_empty()).count() >= 20,
        "README.md has lost its ```sh tour blocks or their answers: {steps:#?}"
    );
    let bash = Command::new("bash").arg("--version").output();
    let curl = Command::new("curl").arg("--version").output();
    if bash.is_err() || curl.is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "bash and curl are needed in CI"
        );
        eprintln!("NOTICE: bash or curl missing; skipping the README tours");
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve_demo(dir.path());
    std::fs::create_dir(dir.path().join("out")).unwrap();
    // The tours work in the demo's folder; they must leave its own files alone (a restart
    // of the demo reads its vendor key from there).
    let demo_key = dir.path().join("seatkeeper-demo.db.demo/vendor.pub.pem");
    let demo_key_before = std::fs::read_to_string(&demo_key).unwrap();
    std::fs::write(
        dir.path().join("tour.sh"),
        script(&steps, env!("CARGO_BIN_EXE_seatkeeper")),
    )
    .unwrap();
    // Bounded: `timeout` ends a tour that hangs (a server that stopped answering, say).
    let shell = Command::new("timeout")
        .args(["50", "bash", "tour.sh"])
        .current_dir(dir.path())
        .env("SK", &base)
        .env("TOUR_OUT", dir.path().join("out"))
        .env_remove("SEATKEEPER_DATABASE")
        .env_remove("SEATKEEPER_VENDOR_KEYS")
        .env_remove("SEATKEEPER_ACTOR")
        .env("SEATKEEPER_LOG", "warn")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert_ne!(
        shell.code(),
        Some(124),
        "the README's tours took more than 50 s"
    );

    let mut failures = String::new();
    for (i, step) in steps.iter().enumerate() {
        let out = dir.path().join("out");
        let output = std::fs::read_to_string(out.join(i.to_string())).unwrap_or_default();
        let status: Option<i32> = std::fs::read_to_string(out.join(format!("{i}.rc")))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let mut wrong = Vec::new();
        if status != Some(step.exit) {
            wrong.push(format!(
                "exit status {status:?}, the README says {}",
                step.exit
            ));
        }
        // An HTTP refusal is an answer with exit 0: only one the README shows may occur.
        if output.contains("{\"error\":") && !step.expected.iter().any(|e| e.contains("error")) {
            wrong.push("answered an error".to_string());
        }
        for e in &step.expected {
            if !matches(&output, e) {
                wrong.push(format!("no line matches `# → {e}`"));
            }
        }
        if !wrong.is_empty() {
            let _ = writeln!(
                failures,
                "README.md:{}: {}\n  {}\n  output: {}\n",
                step.line,
                step.command.lines().next().unwrap_or_default(),
                wrong.join("\n  "),
                output.trim_end()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "the README's tours differ from the product:\n{failures}"
    );
    assert_eq!(
        std::fs::read_to_string(&demo_key).unwrap(),
        demo_key_before,
        "the tours overwrote the demo's vendor key"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the tours took {:?}",
        started.elapsed()
    );
}

#[test]
fn x13_12_the_tour_reader_matches_pieces_in_order_on_one_line() {
    assert!(matches("a {\"x\":1,\"y\":2}\nz", "{\"x\":1,…}"));
    assert!(matches("granted 2 license(s); 0 already held", "granted 2"));
    assert!(!matches("b …a", "a…b"));
    assert!(!matches("a\nb", "a…b"));
    let steps = tour_steps(
        "```sh\nnot run\n```\n```sh tour\nX=1   # set\n# prose\ncurl a \\\n  b\n# → {\"a\":…}\n\
         cat > f <<'EOF'\n# inside\nEOF\nfalse\n# → [exit 1]\n```\n",
    );
    assert_eq!(steps.len(), 4, "{steps:#?}");
    assert_eq!(steps[1].command, "curl a \\\n  b");
    assert_eq!(steps[1].expected, vec!["{\"a\":…}".to_string()]);
    assert_eq!(steps[2].command, "cat > f <<'EOF'\n# inside\nEOF");
    assert_eq!((steps[3].exit, steps[3].expected.len()), (1, 0));
}

/// A file named on the command line that cannot be read is a refusal, exit 2 as documented
/// (it was 1, which the README's vendor tour met with its missing order file).
#[test]
fn x13_12_a_missing_input_file_is_a_refusal_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    super::ok("x.db", d, &["vendor", "keygen", "--out", "v"]);
    super::ok(
        "x.db",
        d,
        &[
            "license",
            "request",
            "--company-id",
            "ACME",
            "-o",
            "req.json",
        ],
    );
    let o = super::run(
        "x.db",
        d,
        &[
            "vendor",
            "issue",
            "--key",
            "v.key.pem",
            "--request",
            "req.json",
            "--order",
            "order.json",
            "-o",
            "lic.json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("order.json: No such file"));
    let o = super::run(
        "x.db",
        d,
        &[
            "--json",
            "--vendor-key",
            "v.pub.pem",
            "license",
            "import",
            "nothing.json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "unreadable_file");
    assert!(!d.join("lic.json").exists());
}
