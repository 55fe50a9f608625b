//! Every capture of the public corpus, all protocols, replays through the
//! real `otwatch replay` binary without a panic and with exit status 0.

mod common;

use std::process::Command;

#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn every_corpus_capture_replays_cleanly() {
    let corpus = common::corpus();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&corpus).expect("corpus folder") {
        let dir = entry.expect("entry").path();
        if dir.is_dir() {
            files.extend(common::captures_in(&dir));
        }
    }
    assert!(
        files.len() >= 100,
        "expected the full corpus, found {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let out = Command::new(env!("CARGO_BIN_EXE_otwatch"))
            .args(["replay", "--eve", "/dev/null"])
            .arg(file)
            .output()
            .expect("run otwatch");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || stderr.contains("panicked") {
            failures.push(format!("{}: {:?}\n{stderr}", file.display(), out.status));
        }
    }
    assert!(
        failures.is_empty(),
        "{} captures failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn project_captures_replay_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    for file in common::captures_in(&dir) {
        let report = common::replay_file(&file);
        assert!(
            report.error.is_none(),
            "{}: {:?}",
            file.display(),
            report.error
        );
        assert!(report.stats.packets > 0, "{}", file.display());
    }
}
