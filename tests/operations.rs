//! Running otwatch as a service. The process log: `otwatch --log-format json
//! analyzer` writes one JSON object per event on stderr, with time, level
//! and target, and a failing syslog export is logged once when it starts
//! failing and once when it delivers again, not at every retry. `otwatch
//! config check`: the shipped example, a broken rule file, OTWATCH_CONFIG.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

const INGEST_TOKEN: &str = "log-test-ingest-0001";
const API_TOKEN: &str = "log-test-api-0001";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// One alert line, as a sensor posts it.
const ALERT: &str = r#"{"timestamp":"2026-11-28T18:00:00.000001+0000","flow_id":1,"event_type":"alert","src_ip":"10.0.0.2","src_port":50000,"dest_ip":"10.0.0.1","dest_port":502,"proto":"TCP","app_proto":"modbus","alert":{"action":"allowed","gid":1,"signature_id":110001,"rev":1,"signature":"Modbus diagnostics","category":"Test","severity":1},"alert_id":"s1-1","sensor":"s1"}"#;

fn post_ingest(addr: &str) -> String {
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the analyzer");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = format!("{ALERT}\n");
    write!(
        conn,
        "POST /api/v1/ingest HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {INGEST_TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    answer
}

#[test]
fn a_failing_export_is_logged_once_as_json_and_once_when_it_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    let (http, soc) = (free_port(), free_port());
    let config = dir.path().join("analyzer.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{http}\ndata_dir: {}\ningest_tokens: [{INGEST_TOKEN}]\napi_token: {API_TOKEN}\n\
             exports:\n  syslog:\n    - name: soc\n      address: 127.0.0.1:{soc}\n      transport: tcp\n      start: beginning\n",
            dir.path().join("data").display()
        ),
    )
    .expect("config");
    let (mut child, rx) = common::otwatch_with_stderr_lines(&[
        "--log-format".as_ref(),
        "json".as_ref(),
        "analyzer".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    let mut lines = Vec::new();
    let t0 = Instant::now();
    while !lines.iter().any(|l: &String| l.contains("serving http://")) {
        assert!(t0.elapsed() < Duration::from_secs(60), "{lines:#?}");
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
    }
    let addr = format!("127.0.0.1:{http}");
    assert!(post_ingest(&addr).starts_with("HTTP/1.1 200"));
    // No receiver for 3.5 s: attempts at about 0, 1 and 3 s all fail.
    std::thread::sleep(Duration::from_millis(3500));
    let receiver = std::net::TcpListener::bind(("127.0.0.1", soc)).expect("receiver");
    let (mut conn, _) = receiver.accept().expect("the export reconnects");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(10).any(|w| w == b"alert_id=\"") {
        let n = conn.read(&mut buf).expect("the alert arrives");
        assert!(n > 0, "closed before the alert");
        got.extend_from_slice(&buf[..n]);
    }
    let t0 = Instant::now();
    while !lines.iter().any(|l| l.contains("delivering again")) {
        assert!(t0.elapsed() < Duration::from_secs(10), "{lines:#?}");
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let events: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let export: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["target"] == "otwatch_analyzer::export")
        .collect();
    assert_eq!(export.len(), 2, "{lines:#?}");
    let (warn, info) = (export[0], export[1]);
    assert_eq!(warn["level"], "WARN");
    let text = warn["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(&format!("export syslog-soc: 127.0.0.1:{soc}: "))
            && text.contains("retried"),
        "{text}"
    );
    assert_eq!(info["level"], "INFO");
    let text = info["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("export syslog-soc: delivering again, after ")
            && !text.contains("after 1 failed"),
        "{text}"
    );
    // RFC 3339 in UTC: 2026-12-04T10:00:00.123456Z.
    let ts = warn["timestamp"].as_str().unwrap_or_default();
    assert!(
        ts.len() >= 20 && ts.ends_with('Z') && &ts[10..11] == "T",
        "{ts}"
    );
}

fn config_check(args: &[&str], env: Option<(&str, &std::path::Path)>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otwatch"));
    cmd.args(["config", "check"])
        .args(args)
        .env_remove("OTWATCH_CONFIG");
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("otwatch config check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_lists_every_problem_and_passes_a_good_setup() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("analyzer/otwatch.yaml");
    let shown = example.display().to_string();
    // As shipped, the example refuses to run with its placeholder token.
    let (code, out, err) = config_check(&["--config", &shown], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "{shown}: ingest_tokens[0]: still the example's placeholder"
        )),
        "{err}"
    );
    assert!(
        out.contains("rules: the bundled ruleset: ") && out.contains(" rules OK"),
        "{out}"
    );
    assert!(
        out.ends_with("configuration has errors in 1 part(s)\n"),
        "{out}"
    );

    // Filled in, found through OTWATCH_CONFIG: everything is good.
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("otwatch.yaml");
    let text = std::fs::read_to_string(&example).expect("example");
    std::fs::write(
        &good,
        text.replace(
            "REPLACE-ME-with-openssl-rand-hex-24",
            "0123456789abcdef0123",
        ),
    )
    .expect("write");
    let (code, out, err) = config_check(&[], Some(("OTWATCH_CONFIG", &good)));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "configuration: {}: OK (listen 127.0.0.1:8080, data /var/lib/otwatch, 0 syslog export(s))\n",
            good.display()
        )),
        "{out}"
    );
    assert!(out.ends_with("configuration OK\n"), "{out}");

    // A rule file with an error and a baseline that is not one: both said,
    // the rule error with its file and line.
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, "rules:\n  - id: 990002\n    name: [unclosed\n").expect("rules");
    let baseline = dir.path().join("baseline.yaml");
    std::fs::write(&baseline, "servers: 7\n").expect("baseline");
    let (code, out, err) = config_check(
        &[
            "--config",
            &good.display().to_string(),
            "--rules",
            &rules.display().to_string(),
            "--baseline",
            &baseline.display().to_string(),
        ],
        None,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&format!("{}:", rules.display())), "{err}");
    assert!(out.contains("rules: 1 error(s)"), "{out}");
    assert!(
        out.contains(&format!("baseline: {}: ", baseline.display())),
        "{out}"
    );
    assert!(
        out.ends_with("configuration has errors in 2 part(s)\n"),
        "{out}"
    );
}

/// The `ExecStart=` of a unit file, continuation lines joined, with the
/// specifiers and variables a start would put in.
fn exec_start(unit: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let joined = unit.replace("\\\n", " ");
    let line = joined
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut line = line.to_string();
    for (k, v) in vars {
        line = line.replace(k, v);
    }
    line.split_whitespace().map(str::to_string).collect()
}

/// The packaged systemd units pass `systemd-analyze verify`, are hardened
/// (`systemd-analyze security` exposure at most 2.0 for the analyzer, which
/// holds no capability, and 4.0 for the sensor, which must open a packet
/// socket), and start otwatch with a command line otwatch accepts.
#[test]
fn systemd_units_verify_are_hardened_and_run_valid_commands() {
    let packaging = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd");
    let dir = tempfile::tempdir().expect("tmp");
    let bin = env!("CARGO_BIN_EXE_otwatch");
    let units = [
        ("otwatch-analyzer.service", "otwatch-analyzer.service", 2.0),
        (
            "otwatch-sensor@.service",
            "otwatch-sensor@eth1.service",
            4.0,
        ),
    ];
    for (file, instance, most) in units {
        let text = std::fs::read_to_string(packaging.join(file)).expect("unit");
        // The unit as installed, pointing at the binary under test.
        let path = dir.path().join(instance);
        std::fs::write(&path, text.replace("/usr/bin/otwatch", bin)).expect("write unit");
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .expect("systemd-analyze (apt-get install systemd)");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{instance}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&path)
            .output()
            .expect("systemd-analyze security");
        let text_out = String::from_utf8_lossy(&out.stdout);
        let exposure: f64 = text_out
            .lines()
            .find_map(|l| l.split("exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{instance}: no exposure level in {text_out}"));
        assert!(
            exposure <= most,
            "{instance}: exposure {exposure} > {most}\n{text_out}"
        );

        // The command line parses (clap reads every argument before --help).
        let args = exec_start(
            &text,
            &[
                ("%i", "eth1"),
                ("%H", "host"),
                ("${OTWATCH_ANALYZER}", "http://127.0.0.1:8080"),
            ],
        );
        assert_eq!(args[0], "/usr/bin/otwatch", "{instance}");
        let out = Command::new(bin)
            .args(&args[1..])
            .arg("--help")
            .output()
            .expect("otwatch");
        assert!(
            out.status.success(),
            "{instance}: {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The packaged logrotate file rotates the sensors' EVE files as the sensor
/// expects: moved, a new file made for the sensor's user, then the
/// postrotate script (SIGHUP to every sensor; here a marker file).
#[test]
fn logrotate_moves_the_eve_file_makes_a_new_one_and_signals() {
    let conf = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/logrotate/otwatch-sensor"),
    )
    .expect("logrotate file");
    assert!(conf.contains("create 0640 otwatch otwatch"), "{conf}");
    assert!(
        conf.contains("systemctl kill --signal=HUP --kill-whom=main 'otwatch-sensor@*.service'"),
        "{conf}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().display().to_string();
    let here = conf
        .replace("/var/log/otwatch-sensor", &d)
        .replace("create 0640 otwatch otwatch", "create 0640 root root")
        .replace(
            "systemctl kill --signal=HUP --kill-whom=main 'otwatch-sensor@*.service' 2>/dev/null || true",
            &format!("touch {d}/signalled"),
        );
    let conf_path = dir.path().join("logrotate.conf");
    std::fs::write(&conf_path, here).expect("conf");
    std::fs::write(
        dir.path().join("eve-eth1.json"),
        "{\"event_type\":\"stats\"}\n",
    )
    .expect("eve");
    let out = Command::new("logrotate")
        .arg("-f")
        .arg("-s")
        .arg(dir.path().join("state"))
        .arg(&conf_path)
        .output()
        .expect("logrotate (apt-get install logrotate)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // delaycompress: the first rotation is kept as it is.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("eve-eth1.json.1")).expect("moved"),
        "{\"event_type\":\"stats\"}\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("eve-eth1.json")).expect("new file"),
        ""
    );
    assert!(dir.path().join("signalled").exists(), "postrotate ran");
}

/// The manual page and the shell completions come from the command-line
/// definition: the page renders without a warning and names every command,
/// the bash completion is valid bash that completes them.
#[test]
fn manual_page_and_completions_are_generated_from_the_cli() {
    let bin = env!("CARGO_BIN_EXE_otwatch");
    let page = Command::new(bin).arg("manpage").output().expect("manpage");
    assert!(page.status.success());
    let roff = String::from_utf8(page.stdout).expect("utf-8");
    assert!(roff.contains("\n.TH otwatch 1 "), "{roff}");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("otwatch.1");
    std::fs::write(&path, &roff).expect("write");
    let shown = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(&path)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .expect("man (apt-get install man-db)");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(
        shown.stderr.is_empty(),
        "man warned: {}",
        String::from_utf8_lossy(&shown.stderr)
    );
    for command in [
        "replay", "sensor", "learn", "generate", "analyzer", "run", "rules", "config",
    ] {
        assert!(text.contains(command), "{command} not in the manual page");
    }
    let bash = Command::new(bin)
        .args(["completions", "bash"])
        .output()
        .expect("completions");
    assert!(bash.status.success());
    let script = dir.path().join("otwatch.bash");
    std::fs::write(&script, &bash.stdout).expect("write");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash");
    assert!(syntax.success(), "the bash completion does not parse");
    // Completing `otwatch con` offers `config`.
    let probe = format!(
        "source {}; COMP_WORDS=(otwatch con); COMP_CWORD=1; _otwatch otwatch con otwatch; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(probe)
        .output()
        .expect("bash");
    let offered = String::from_utf8_lossy(&out.stdout);
    assert!(offered.lines().any(|l| l == "config"), "{offered}");
}
