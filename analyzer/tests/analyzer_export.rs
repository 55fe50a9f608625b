//! Exports against a real receiver: Debian's rsyslog, started with its own
//! configuration on loopback ports (UDP, TCP with octet counting or line
//! feeds, TLS with and without client certificates, RELP), writing what it
//! receives to a file in a temporary folder; stopped and started again to
//! check that an outage loses and repeats nothing. Also the EVE file export
//! and its rotation. Needs `rsyslogd` with its gtls and relp modules
//! (`rsyslog`, `rsyslog-gnutls`, `rsyslog-relp`) and `openssl`
//! (tests/peers/install.sh installs them).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use otwatch_analyzer::config::{ByteSize, EveFileConfig, Format, Framing, StartAt, Transport};
use serde_json::{json, Value};

struct Rsyslog(Child);

impl Rsyslog {
    /// Stops rsyslogd as a service manager does (SIGTERM) and waits for it.
    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t0 = Instant::now();
        while self.0.try_wait().ok().flatten().is_none() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "rsyslogd did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_tcp() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn free_udp() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn sh(dir: &Path, cmd: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .expect("sh");
    assert!(st.success(), "{cmd}");
}

/// A CA, a server certificate for `localhost` / 127.0.0.1 and a client
/// certificate (`client.pem`, `client.key`) signed by the same CA.
fn make_certs(dir: &Path) {
    sh(dir, "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=otwatch-test-ca");
    sh(
        dir,
        "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost",
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    sh(dir, "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext");
    sh(
        dir,
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=otwatch-client",
    );
    std::fs::write(
        dir.join("client-ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .expect("ext");
    sh(dir, "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client-ext");
}

/// Loopback ports of the receiver's inputs.
#[derive(Clone, Copy)]
struct Ports {
    udp: u16,
    tcp: u16,
    tls: u16,
    /// TLS that requires a client certificate signed by the test CA.
    mtls: u16,
    relp: u16,
}

impl Ports {
    fn free() -> Ports {
        Ports {
            udp: free_udp(),
            tcp: free_tcp(),
            tls: free_tcp(),
            mtls: free_tcp(),
            relp: free_tcp(),
        }
    }
}

fn start_rsyslog(dir: &Path, p: Ports) -> Rsyslog {
    let Ports {
        udp,
        tcp,
        tls,
        mtls,
        relp,
    } = p;
    let work = dir.join("work");
    std::fs::create_dir_all(&work).expect("work");
    let d = dir.display();
    let conf = format!(
        r#"global(workDirectory="{d}/work"
       defaultNetstreamDriverCAFile="{d}/ca.pem"
       defaultNetstreamDriverCertFile="{d}/srv.pem"
       defaultNetstreamDriverKeyFile="{d}/srv.key")
module(load="imudp")
module(load="imtcp")
module(load="imrelp")
input(type="imudp" address="127.0.0.1" port="{udp}" name="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" name="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls}" name="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="{mtls}" name="mtls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
input(type="imrelp" address="127.0.0.1" port="{relp}" name="relp")
template(name="t" type="string" string="%inputname%~~%pri%~~%hostname%~~%app-name%~~%msgid%~~%structured-data%~~%msg%\n")
action(type="omfile" file="{d}/out.log" template="t")
"#
    );
    std::fs::write(dir.join("rsyslog.conf"), conf).expect("conf");
    let child = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(dir.join("rsyslog.conf"))
        .arg("-i")
        .arg(dir.join("rsyslog.pid"))
        .stdout(Stdio::null())
        .spawn()
        .expect("rsyslogd (apt-get install rsyslog rsyslog-gnutls rsyslog-relp)");
    let r = Rsyslog(child);
    let t0 = Instant::now();
    // Probing the plain TCP port (a probe on a TLS port makes rsyslog log
    // a failed handshake), then waiting for the listeners opened after it.
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "rsyslogd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    while [tls, mtls, relp]
        .iter()
        .any(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "rsyslogd did not open its TLS and RELP inputs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

fn received(dir: &Path) -> Vec<String> {
    let bytes = std::fs::read(dir.join("out.log")).unwrap_or_default();
    let text = String::from_utf8(bytes).expect("rsyslog wrote valid UTF-8");
    text.lines().map(str::to_string).collect()
}

fn wait_for(dir: &Path, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    let t0 = Instant::now();
    loop {
        let lines = received(dir);
        if pred(&lines) {
            return lines;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{what}: got {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A field with quotes, `]`, a backslash, newlines, a NUL, bytes the sensor
/// wrote as `\u00XX`, and a raw byte that is not UTF-8.
fn hostile_body() -> Vec<u8> {
    let mut a = alert(1, 110001, 1, "modbus", "10.0.0.2", "10.0.0.1", 0);
    a["modbus"]["request"]["device"] = json!("PLC \"A\"]\\x\nnext line\r\u{0}\u{ff}\u{85}end|=RAW");
    let text = a.to_string();
    let mut bytes = text.replace("RAW", "\u{1}").into_bytes();
    let at = bytes.iter().rposition(|&b| b == 1).expect("marker");
    bytes[at] = 0xfe;
    bytes.push(b'\n');
    bytes
}

#[test]
fn syslog_over_udp_tcp_and_tls_reaches_rsyslog_escaped_and_retried() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    make_certs(d);
    let ports = Ports::free();
    let Ports { udp, tcp, tls, .. } = ports;
    let mut c = config(&d.join("data"));
    c.exports
        .syslog
        .push(syslog("tcp", tcp, Transport::Tcp, Format::Rfc5424));
    let mut t = syslog("tls", tls, Transport::Tls, Format::Rfc5424);
    t.ca_file = Some(d.join("ca.pem"));
    t.server_name = Some("localhost".into());
    c.exports.syslog.push(t);
    c.exports
        .syslog
        .push(syslog("udp", udp, Transport::Udp, Format::Cef));
    let s = TestServer::start(c);

    // The receiver is down: the alert waits in the store and is retried.
    let r = agent()
        .post(&s.url("/api/v1/ingest"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send(&hostile_body()[..])
        .expect("ingest");
    assert_eq!(r.status().as_u16(), 200);
    std::thread::sleep(Duration::from_millis(1200));
    let _rsyslog = start_rsyslog(d, ports);
    let lines = wait_for(d, "the first alert over TCP and TLS", |l| {
        l.iter().any(|x| x.starts_with("tcp~~")) && l.iter().any(|x| x.starts_with("tls~~"))
    });
    let want_sd = "[otwatch-tx@32473 modbus.request.device=\"PLC \\\"A\\\"\\]\\\\x\\nnext line\\r\\x00\u{ff}\\x85end|=\u{fffd}\" \
                   modbus.request.function=\"diagnostics\" modbus.request.function_code=\"8\" modbus.transaction_id=\"1\"]";
    for input in ["tcp", "tls"] {
        let l: Vec<&String> = lines
            .iter()
            .filter(|x| x.starts_with(&format!("{input}~~")))
            .collect();
        assert_eq!(l.len(), 1, "{input}: {lines:#?}");
        let f: Vec<&str> = l[0].splitn(7, "~~").collect();
        assert_eq!(
            &f[..5],
            [input, "162", "otwatch-test", "otwatch", "alert"],
            "{input}"
        );
        assert!(f[5].starts_with("[otwatch@32473 id=\""), "{}", f[5]);
        assert!(f[5].contains(" alert_id=\"s1-1\" sid=\"110001\" rev=\"1\" severity=\"1\" severity_name=\"critical\""), "{}", f[5]);
        assert!(f[5].ends_with(want_sd), "{input}: {}", f[5]);
        // The alert's group: the first alert's own id.
        let id = f[5].split('"').nth(1).unwrap_or_default();
        assert!(
            f[5].contains(&format!(" sensor=\"s1\" group_id=\"{id}\" ")),
            "{}",
            f[5]
        );
        assert_eq!(f[6], "Rule 110001");
    }

    // With the receiver up, new alerts flow on every transport.
    let batch: Vec<Value> = (2..5)
        .map(|n| alert(n, 110002, 3, "s7comm", "10.0.0.3", "10.0.0.1", n))
        .collect();
    assert_eq!(ingest(&s, &ndjson(&batch)).0, 200);
    let lines = wait_for(d, "three more per transport", |l| {
        ["tcp~~", "tls~~", "udp~~"].iter().all(|p| {
            l.iter()
                .filter(|x| x.starts_with(p) && x.contains("110002"))
                .count()
                == 3
        })
    });
    let cef: Vec<&String> = lines
        .iter()
        .filter(|x| x.starts_with("udp~~") && x.contains("110002"))
        .collect();
    let f: Vec<&str> = cef[0].splitn(7, "~~").collect();
    assert_eq!(
        &f[..6],
        ["udp", "164", "otwatch-test", "otwatch", "alert", "-"]
    );
    assert!(
        f[6].starts_with(&format!(
            "CEF:0|otwatch|otwatch|{}|110002|Rule 110002|5|rt=",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        f[6]
    );
    assert!(f[6].contains(" src=10.0.0.3 spt=50000 dst=10.0.0.1 dpt=502 proto=TCP app=s7comm cat=Test act=allowed "), "{}", f[6]);
    // Alerts 2 to 4 are one group, the first one's.
    let id = f[6]
        .split(" externalId=")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default();
    assert!(f[6].contains(" cs5Label=group_id cs5="), "{}", f[6]);
    let group = f[6]
        .split(" cs5=")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default();
    assert_eq!(group.len(), 16, "{}", f[6]);
    assert!(group <= id, "{}", f[6]);
    // Each message is one line: nothing injected a line break.
    assert!(
        lines
            .iter()
            .all(|l| ["tcp~~", "tls~~", "udp~~"].iter().any(|p| l.starts_with(p))),
        "{lines:#?}"
    );
    s.stop();
}

/// Alert lines of a rule on every Modbus device identification answer,
/// from our capture of a pymodbus server whose identity is hostile markup
/// (`pcaps/modbus_devid_xss.pcap`: basic and regular streams, function 43 /
/// MEI 14), as the sensor writes them.
fn device_identification_alerts() -> Vec<Value> {
    use otwatch_sensor::assets::{AssetLimits, Tracked};
    use otwatch_sensor::detect::rules::Ruleset;
    use otwatch_sensor::detect::Detect;
    use otwatch_sensor::eve::{EveWriter, EventFilter};
    use otwatch_sensor::pipeline::PipelineConfig;
    use otwatch_sensor::replay::replay;
    let rules = Ruleset::from_str(
        "devid.yaml",
        "rules:\n  - id: 990043\n    name: Modbus device identification read\n    severity: low\n    protocol: modbus\n    description: every MEI 14 answer\n    match:\n      function: encapsulated_interface_transport\n      answered: true\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let eve = EveWriter::new(Vec::new(), EventFilter::parse("alert").expect("filter"));
    let detect = Detect::new(
        std::sync::Arc::new(rules),
        Tracked::new(eve, AssetLimits::default()),
    );
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcaps/modbus_devid_xss.pcap");
    let (detect, report) = replay(
        &[pcap],
        PipelineConfig::default(),
        detect,
        &mut |_, _, _| {},
    );
    assert!(report.error.is_none(), "{:?}", report.error);
    let text = String::from_utf8(detect.into_inner().inner.into_inner()).expect("utf8");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// The SD-PARAMs of the `otwatch-tx` element of an rsyslog line, unescaped.
fn tx_params(sd: &str) -> Vec<(String, String)> {
    let start = sd.find("[otwatch-tx@32473").expect("otwatch-tx") + "[otwatch-tx@32473".len();
    let mut out = Vec::new();
    let mut chars = sd[start..].chars().peekable();
    loop {
        match chars.next() {
            Some(' ') => {}
            Some(']') | None => return out,
            Some(c) => {
                let mut name = c.to_string();
                for c in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    name.push(c);
                }
                assert_eq!(chars.next(), Some('"'), "{sd}");
                let mut value = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.push(chars.next().expect("escaped")),
                        '"' => break,
                        c => value.push(c),
                    }
                }
                out.push((name, value));
            }
        }
    }
}

#[test]
fn syslog_names_every_device_identification_field_apart() {
    let lines = device_identification_alerts();
    // Two basic-stream answers (objects 0-2) and one regular (0-6).
    let regular: Vec<&Value> = lines
        .iter()
        .filter(|l| l["modbus"]["response"]["device_identification"]["code_name"] == "regular")
        .collect();
    assert_eq!((lines.len(), regular.len()), (3, 1), "{lines:#?}");
    let objects = regular[0]["modbus"]["response"]["device_identification"]["objects"]
        .as_object()
        .expect("objects")
        .clone();
    assert_eq!(objects.len(), 7, "{objects:?}");

    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    make_certs(d);
    let ports = Ports::free();
    let tcp = ports.tcp;
    let _rsyslog = start_rsyslog(d, ports);
    let mut c = config(&d.join("data"));
    c.exports
        .syslog
        .push(syslog("tcp", tcp, Transport::Tcp, Format::Rfc5424));
    let s = TestServer::start(c);
    assert_eq!(ingest(&s, &ndjson(&lines)).0, 200);
    let got = wait_for(d, "three device identification alerts", |l| {
        l.iter().filter(|x| x.contains("990043")).count() == 3
    });
    s.stop();
    let line = got
        .iter()
        .find(|l| l.contains("modbus.devid.code_name=\"regular\""))
        .unwrap_or_else(|| panic!("no regular-stream alert: {got:#?}"));
    let f: Vec<&str> = line.splitn(7, "~~").collect();
    let params = tx_params(f[5]);
    // Every name once, each within RFC 5424's 32 characters.
    let mut names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.iter().all(|n| n.len() <= 32), "{names:?}");
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), params.len(), "{params:?}");
    let value = |n: &str| {
        params
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {n} in {params:?}"))
    };
    // Each identity field under its own name, with the value the PLC sent
    // (markup kept as text: escaping is the SIEM's display concern).
    let want = [
        ("vendor_name", "modbus.devid.vendor_name"),
        ("product_code", "modbus.devid.product_code"),
        ("major_minor_revision", "modbus.devid.revision"),
        ("vendor_url", "modbus.devid.vendor_url"),
        ("product_name", "modbus.devid.product_name"),
        ("model_name", "modbus.devid.model_name"),
        ("user_application_name", "modbus.devid.user_app_name"),
    ];
    for (object, name) in want {
        assert_eq!(
            value(name),
            objects[object].as_str().expect("text"),
            "{name}"
        );
    }
    assert_eq!(
        value("modbus.devid.vendor_name"),
        "<script>alert(1)</script>"
    );
    assert_eq!(value("modbus.devid.vendor_url"), "javascript:alert(1)");
    assert_eq!(value("modbus.devid.code_name"), "regular");
    assert_eq!(value("modbus.devid.request_code_name"), "regular");
}

#[test]
fn eve_file_export_rotates_by_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let path = d.join("eve").join("alerts.json");
    let mut c = config(&d.join("data"));
    c.exports.eve_file = Some(EveFileConfig {
        path: path.clone(),
        max_size: ByteSize(4096),
        keep: 2,
        start: StartAt::Beginning,
    });
    let s = TestServer::start(c);
    let batch: Vec<Value> = (0..40)
        .map(|n| alert(n, 110001, 2, "modbus", "10.0.0.2", "10.0.0.1", n))
        .collect();
    assert_eq!(ingest(&s, &ndjson(&batch)).0, 200);
    s.stop();
    let read = |p: &Path| -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect()
    };
    let current = read(&path);
    let one = read(&d.join("eve/alerts.json.1"));
    let two = read(&d.join("eve/alerts.json.2"));
    assert!(!d.join("eve/alerts.json.3").exists());
    for f in ["alerts.json", "alerts.json.1", "alerts.json.2"] {
        assert!(
            std::fs::metadata(d.join("eve").join(f))
                .expect("file")
                .len()
                <= 4096,
            "{f}"
        );
    }
    // The newest alerts, in order, across the kept files.
    let ids: Vec<String> = two
        .iter()
        .chain(&one)
        .chain(&current)
        .map(|v| v["alert_id"].as_str().unwrap_or("").to_string())
        .collect();
    let n = ids.len();
    assert!(n > 10 && n < 40, "{n}");
    let want: Vec<String> = (40 - n..40).map(|i| format!("s1-{i}")).collect();
    assert_eq!(ids, want);
    // Each line as received, with the API id of its group added.
    let mut last = batch[39].clone();
    let group = current
        .last()
        .and_then(|l| l["group_id"].as_str())
        .unwrap_or("");
    assert_eq!(group.len(), 16, "{:?}", current.last());
    last["group_id"] = json!(group);
    assert_eq!(current.last(), Some(&last));
}

/// The `alert_id` of each line rsyslog wrote for the export whose HOSTNAME
/// is `host`.
fn alert_ids(lines: &[String], host: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.split("~~").nth(2) == Some(host))
        .filter_map(|l| {
            let at = l.find(" alert_id=\"")? + 11;
            Some(l[at..].split('"').next()?.to_string())
        })
        .collect()
}

#[test]
fn syslog_outage_loses_and_repeats_nothing_on_tcp_tls_and_relp() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    make_certs(d);
    let ports = Ports::free();
    let rsyslog = start_rsyslog(d, ports);
    let mut c = config(&d.join("data"));
    // One export per transport, told apart by HOSTNAME at the receiver.
    let mut exports = Vec::new();
    let mut add = |name: &str, port: u16, transport: Transport| {
        let mut e = syslog(name, port, transport, Format::Rfc5424);
        e.hostname = format!("h-{name}");
        if transport == Transport::Tls {
            e.ca_file = Some(d.join("ca.pem"));
            e.server_name = Some("localhost".into());
        }
        exports.push(e);
    };
    add("tcp", ports.tcp, Transport::Tcp);
    add("lf", ports.tcp, Transport::Tcp);
    add("tls", ports.tls, Transport::Tls);
    add("mtls", ports.mtls, Transport::Tls);
    add("nocert", ports.mtls, Transport::Tls);
    add("relp", ports.relp, Transport::Relp);
    exports[1].framing = Framing::Lf;
    exports[3].cert_file = Some(d.join("client.pem"));
    exports[3].key_file = Some(d.join("client.key"));
    c.exports.syslog = exports;
    let s = TestServer::start(c);

    // 200 alerts, 10 every 100 ms; rsyslog is stopped after the eighth
    // batch and started again 3 s later, while alerts keep arriving.
    const TOTAL: u64 = 200;
    let ingested = std::thread::scope(|scope| {
        let feeder = scope.spawn(|| {
            for b in 0..TOTAL / 10 {
                let batch: Vec<Value> = (b * 10 + 1..=b * 10 + 10)
                    .map(|n| alert(n, 110001, 2, "modbus", "10.0.0.2", "10.0.0.1", n % 3000))
                    .collect();
                assert_eq!(ingest(&s, &ndjson(&batch)).0, 200);
                std::thread::sleep(Duration::from_millis(100));
            }
            TOTAL
        });
        wait_for(d, "the first alerts on every transport", |l| {
            ["h-tcp", "h-lf", "h-tls", "h-mtls", "h-relp"]
                .iter()
                .all(|h| alert_ids(l, h).len() >= 30)
        });
        rsyslog.stop();
        let during = received(d).len();
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            received(d).len(),
            during,
            "nothing arrives while rsyslog is down"
        );
        let again = start_rsyslog(d, ports);
        let n = feeder.join().expect("feeder");
        (n, again)
    });
    let (n, _rsyslog) = ingested;
    let want: Vec<String> = (1..=n).map(|i| format!("s1-{i}")).collect();
    let t0 = Instant::now();
    for host in ["h-tcp", "h-lf", "h-tls", "h-mtls", "h-relp"] {
        let lines = loop {
            let lines = received(d);
            if alert_ids(&lines, host).len() >= want.len() {
                break lines;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(40),
                "{host}: {} of {} alerts arrived",
                alert_ids(&lines, host).len(),
                want.len()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let mut got = alert_ids(&lines, host);
        got.sort_by_key(|id| id[3..].parse::<u64>().unwrap_or(0));
        // Every alert once: none lost in the outage, none sent twice.
        assert_eq!(got, want, "{host}");
    }
    // Each export noticed the outage; the one without a client certificate
    // never got through to the input that requires one.
    for name in ["tcp", "lf", "tls", "mtls", "relp", "nocert"] {
        let errors: u64 = metric_value(
            &s,
            &format!("otwatch_analyzer_export_errors_total{{exporter=\"syslog-{name}\"}}"),
        )
        .unwrap_or(0);
        assert!(errors > 0, "{name}: no failure counted");
    }
    let sent: u64 = metric_value(
        &s,
        "otwatch_analyzer_export_sent_total{exporter=\"syslog-relp\"}",
    )
    .unwrap_or(0);
    assert_eq!(sent, n);
    assert_eq!(
        metric_value::<u64>(
            &s,
            "otwatch_analyzer_export_sent_total{exporter=\"syslog-nocert\"}"
        ),
        Some(0)
    );
    assert!(alert_ids(&received(d), "h-nocert").is_empty());
    // Each message arrived on its own line, whichever framing carried it.
    assert!(received(d)
        .iter()
        .all(|l| ["tcp~~", "tls~~", "mtls~~", "relp~~"]
            .iter()
            .any(|p| l.starts_with(p))));
    s.stop();
}
