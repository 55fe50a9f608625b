//! Helpers shared by the end-to-end tests: the capture corpus, tshark as an
//! oracle, and in-process replays.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use otwatch_sensor::pipeline::{NullOutput, PipelineConfig};
use otwatch_sensor::replay::{replay, ReplayReport};

/// The public capture corpus (`OTWATCH_PCAP_CORPUS`); a panic when the
/// variable is unset or names no folder, so that no corpus test passes
/// having tested nothing.
pub fn corpus() -> PathBuf {
    // The tests that call this are `#[ignore]`d: run on purpose
    // (`--include-ignored`, as scripts/test does when it finds the corpus),
    // they fail without it rather than pass having tested nothing.
    let dir = std::env::var_os("OTWATCH_PCAP_CORPUS").unwrap_or_else(|| {
        panic!("OTWATCH_PCAP_CORPUS is not set: point it at the public capture corpus (../shared/pcaps)")
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "OTWATCH_PCAP_CORPUS={} is set but is not a folder",
        dir.display()
    );
    dir
}

/// Capture files directly under `dir`, sorted.
pub fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures in {}", dir.display());
    files
}

/// The project's own captures (`pcaps/` at the repository root).
pub fn project_pcap(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps")
        .join(name)
}

/// Replays one file in process with no output.
pub fn replay_file(path: &Path) -> ReplayReport {
    let (_, report) = replay(
        &[path.to_path_buf()],
        PipelineConfig::default(),
        NullOutput,
        &mut |_, _, _| {},
    );
    report
}

/// Runs tshark; panics with its stderr when it fails or is missing.
pub fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("tshark is needed for this test (apt-get install tshark): {e}"));
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Frame numbers tshark's TCP analysis flags as retransmissions. tshark does
/// not dissect these frames by default; otwatch de-duplicates the bytes they
/// repeat but decodes the bytes they carry for the first time.
pub fn retransmitted_frames(path: &Path) -> BTreeSet<u64> {
    let out = tshark(&[
        "-n",
        "-r",
        path.to_str().unwrap_or_default(),
        "-Y",
        "tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]);
    out.split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Counts the values of `field` over frames matching `filter`, decoding every
/// frame (retransmissions too) and skipping the frames in `skip`.
pub fn tshark_field_counts(
    path: &Path,
    filter: &str,
    field: &str,
    skip: &BTreeSet<u64>,
) -> BTreeMap<u64, u64> {
    let out = tshark(&[
        "-n",
        "-r",
        path.to_str().unwrap_or_default(),
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
        "-Y",
        filter,
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        field,
        "-E",
        "occurrence=a",
    ]);
    let mut counts = BTreeMap::new();
    for line in out.lines() {
        let mut cols = line.split('\t');
        let frame: u64 = cols.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if skip.contains(&frame) {
            continue;
        }
        for value in cols
            .next()
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
        {
            let v = if let Some(hex) = value.strip_prefix("0x") {
                u64::from_str_radix(hex, 16).unwrap_or(u64::MAX)
            } else {
                value.parse().unwrap_or(u64::MAX)
            };
            *counts.entry(v).or_insert(0) += 1;
        }
    }
    counts
}

/// Our per-function PDU counts of one protocol, keyed through `fold`.
pub fn our_function_counts(
    report: &ReplayReport,
    proto: &str,
    fold: impl Fn(u64) -> u64,
) -> BTreeMap<u64, u64> {
    let mut counts = BTreeMap::new();
    if let Some(app) = report.stats.app.get(proto) {
        for (key, n) in &app.functions() {
            let code: u64 = key.parse().expect("numeric function key");
            *counts.entry(fold(code)).or_insert(0) += n;
        }
    }
    counts
}

/// `ours - theirs` per key, only where they differ.
pub fn difference(ours: &BTreeMap<u64, u64>, theirs: &BTreeMap<u64, u64>) -> BTreeMap<u64, i64> {
    let keys: BTreeSet<u64> = ours.keys().chain(theirs.keys()).copied().collect();
    keys.into_iter()
        .filter_map(|k| {
            let d = *ours.get(&k).unwrap_or(&0) as i64 - *theirs.get(&k).unwrap_or(&0) as i64;
            (d != 0).then_some((k, d))
        })
        .collect()
}

/// Our counters of one protocol whose key is `prefix` followed by a decimal
/// number (`prefix` = "" for the plain function-code keys), keyed by that
/// number. Keys of other shapes are ignored.
pub fn our_prefixed_counts(report: &ReplayReport, proto: &str, prefix: &str) -> BTreeMap<u64, u64> {
    let mut counts = BTreeMap::new();
    if let Some(app) = report.stats.app.get(proto) {
        for (key, n) in &app.functions() {
            let Some(number) = key.strip_prefix(prefix) else {
                continue;
            };
            if let Ok(code) = number.parse::<u64>() {
                *counts.entry(code).or_insert(0) += n;
            }
        }
    }
    counts
}

/// One frame of [`tshark_rows`]: its number and, per requested field, the
/// values of every occurrence in the frame (in order).
pub type TsharkRow = (u64, Vec<Vec<String>>);

/// Runs tshark on every frame (`tcp.analyze_sequence_numbers:FALSE`) and
/// returns the occurrences of `fields` in the frames matching `filter`,
/// skipping the frames in `skip`. Unlike [`tshark_field_counts`], the fields
/// stay together per frame, so values of one PDU can be paired.
pub fn tshark_rows(
    path: &Path,
    filter: &str,
    fields: &[&str],
    skip: &BTreeSet<u64>,
) -> Vec<TsharkRow> {
    let mut args = vec![
        "-n",
        "-r",
        path.to_str().unwrap_or_default(),
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "frame.number",
    ];
    for f in fields {
        args.push("-e");
        args.push(f);
    }
    let out = tshark(&args);
    let mut rows = Vec::new();
    for line in out.lines() {
        let mut cols = line.split('\t');
        let frame: u64 = cols.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if skip.contains(&frame) {
            continue;
        }
        let values = (0..fields.len())
            .map(|_| {
                cols.next()
                    .unwrap_or("")
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        rows.push((frame, values));
    }
    rows
}

/// Our counters of one protocol whose key starts with `prefix`, keyed by the
/// rest of the key (e.g. `"4/1"` for `userdata:4/1`).
pub fn our_keyed_counts(report: &ReplayReport, proto: &str, prefix: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    if let Some(app) = report.stats.app.get(proto) {
        for (key, n) in &app.functions() {
            if let Some(rest) = key.strip_prefix(prefix) {
                *counts.entry(rest.to_string()).or_insert(0) += n;
            }
        }
    }
    counts
}

/// Replays one file in process into an EVE writer and returns the EVE lines,
/// parsed, with the run's report.
pub fn replay_eve(path: &Path) -> (Vec<serde_json::Value>, ReplayReport) {
    use otwatch_sensor::eve::{EveWriter, EventFilter};
    let eve = EveWriter::new(Vec::new(), EventFilter::all());
    let (mut eve, report) = replay(
        &[path.to_path_buf()],
        PipelineConfig::default(),
        eve,
        &mut |_, _, _| {},
    );
    eve.finish().expect("flush EVE");
    let text = String::from_utf8(eve.into_inner()).expect("EVE is UTF-8");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid EVE line {l}: {e}")))
        .collect();
    (lines, report)
}

/// The address (HOST:PORT) and API token of the login link that `otwatch
/// run` prints on stderr (`serving http://HOST:PORT/?token=TOKEN`).
pub fn login_link(stderr: &str) -> (String, String) {
    let link = stderr
        .split("serving http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in:\n{stderr}"));
    let (host, token) = link
        .split_once("/?token=")
        .unwrap_or_else(|| panic!("no login link in:\n{stderr}"));
    (host.to_owned(), token.to_owned())
}

/// GET `path` from `host` (HOST:PORT) with the API token `token` and parse
/// the JSON body (plain HTTP/1.1, no client crate); the answer must be 200.
pub fn http_get(host: &str, token: &str, path: &str) -> serde_json::Value {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(host).expect("connect analyzer");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let (head, body) = read_reply(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// POST the JSON `body` to `path` on `host` with the API token `token`:
/// the status and the JSON body (null when it is not JSON).
pub fn http_post(
    host: &str,
    token: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(host).expect("connect analyzer");
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let (head, body) = read_reply(&mut stream);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// The head and the (de-chunked) body of the reply on `stream`.
fn read_reply(stream: &mut std::net::TcpStream) -> (String, String) {
    use std::io::Read;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("reply");
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP reply");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (head.to_owned(), body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `otwatch ARGS` with its stderr read line by line on a thread (to its end,
/// so the process never blocks on a full pipe): the child, and a channel of
/// those lines (still drained when the receiver is dropped).
pub fn otwatch_with_stderr_lines(
    args: &[&std::ffi::OsStr],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_otwatch"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start otwatch");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}
