//! End-to-end live capture: real Modbus (pymodbus), S7comm (python-snap7),
//! DNP3 (dnp3py) and IEC 60870-5-104 (c104, on lib60870) peers talk across a private network of namespaces while
//! `otwatch sensor` (shipping to an analyzer in this test process) or
//! `otwatch run` (analyzer and sensor in one process, read back through its
//! own API) listens on the host side of a veth, with 2 workers.
//!
//! The network of each test (names and addresses unique to the test, so the
//! tests run in parallel; removed by a `Drop` guard even when a test fails):
//!
//! ```text
//!   ns otwlN-plc  eth0 10.201.N.10  (servers: Modbus 502, S7 102, DNP3 20000,
//!                                     IEC 104 2404)
//!   ns otwlN-mst  eth0 10.201.N.20  (the configured master)
//!   ns otwlN-rog  eth0 10.201.N.30  (a host that is not on any list)
//!          \            |            /
//!           ns otwlN-sw: bridge br0 with learning off on every port,
//!           so it floods every frame to every port (a hub: a SPAN port)
//!                       |
//!           veth otwlNtap1 (in otwlN-sw) ── otwlNtap (host): the sensor listens here
//! ```
//!
//! The host end `otwlNtap` has no address and IPv6 off: nothing on the host
//! sends on it, so its TX counters must not move while the sensor runs —
//! which proves that the sensor never transmits.
//!
//! Needs root, `ip` (iproute2) and the Python peers (`tests/peers/install.sh`).
//! Without root the tests are skipped with a message; `OTWATCH_SKIP_LIVE=1`
//! skips them too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{http_get, http_post, login_link};

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether the live tests can run here; says why not.
fn live_tests_enabled(name: &str) -> bool {
    if std::env::var_os("OTWATCH_SKIP_LIVE").is_some() {
        eprintln!("{name}: skipped (OTWATCH_SKIP_LIVE is set)");
        return false;
    }
    if !is_root() {
        eprintln!("{name}: skipped: needs root (network namespaces and a raw socket)");
        return false;
    }
    let peers = Command::new("python3")
        .args(["-c", "import pymodbus, snap7, dnp3, c104"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(peers, "{name}: the Python peers are missing: run tests/peers/install.sh (or set OTWATCH_SKIP_LIVE=1)");
    true
}

/// Runs a command and panics with its output if it fails.
fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command, ignoring failure (cleanup).
fn run_quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The test network; everything in it is removed on drop.
struct Net {
    id: u8,
}

impl Net {
    fn ns(&self, role: &str) -> String {
        format!("otwl{}-{role}", self.id)
    }

    fn tap(&self) -> String {
        format!("otwl{}tap", self.id)
    }

    fn ip(&self, host: u8) -> String {
        format!("10.201.{}.{host}", self.id)
    }

    fn plc_ip(&self) -> String {
        self.ip(10)
    }

    fn master_ip(&self) -> String {
        self.ip(20)
    }

    fn rogue_ip(&self) -> String {
        self.ip(30)
    }

    const HOSTS: [(&'static str, u8); 3] = [("plc", 10), ("mst", 20), ("rog", 30)];

    fn create(id: u8) -> Net {
        let net = Net { id };
        net.remove(); // leftovers of a killed run
        let sw = net.ns("sw");
        for role in ["sw", "plc", "mst", "rog"] {
            let ns = net.ns(role);
            run(&["ip", "netns", "add", &ns]);
            // No IPv6, and no IGMP reports for link-local groups (bridge
            // ports would send them when they come up): the only IP traffic
            // on the network is the peers' own, so flow counts are exact.
            run(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                "net.ipv4.igmp_link_local_mcast_reports=0",
            ]);
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        run(&[
            "ip",
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        run(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        let mut ports = Vec::new();
        for (role, host) in Net::HOSTS {
            let ns = net.ns(role);
            let outer = format!("otwl{id}{role}0");
            let inner = format!("otwl{id}{role}1");
            run(&[
                "ip", "-n", &sw, "link", "add", &outer, "type", "veth", "peer", "name", &inner,
                "netns", &ns,
            ]);
            run(&["ip", "-n", &ns, "link", "set", &inner, "name", "eth0"]);
            run(&[
                "ip",
                "-n",
                &ns,
                "link",
                "set",
                "eth0",
                "address",
                &format!("02:00:0a:c9:{id:02x}:{host:02x}"),
            ]);
            run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", net.ip(host)),
                "dev",
                "eth0",
            ]);
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            // No offloads: every frame is a real <= MTU frame.
            run_quiet(&[
                "ip", "netns", "exec", &ns, "ethtool", "-K", "eth0", "tso", "off", "gso", "off",
                "gro", "off",
            ]);
            ports.push(outer);
        }
        // The monitoring port: one end on the hub, the other on the host.
        let tap = net.tap();
        let tap_peer = format!("{tap}1");
        run(&[
            "ip", "link", "add", &tap, "type", "veth", "peer", "name", &tap_peer, "netns", &sw,
        ]);
        std::fs::write(format!("/proc/sys/net/ipv6/conf/{tap}/disable_ipv6"), "1")
            .expect("disable IPv6 on the tap");
        run_quiet(&[
            "ethtool", "-K", &tap, "tso", "off", "gso", "off", "gro", "off",
        ]);
        ports.push(tap_peer);
        for port in &ports {
            run(&["ip", "-n", &sw, "link", "set", port, "master", "br0"]);
            // No learning: the bridge floods every frame to every port.
            run(&[
                "ip",
                "-n",
                &sw,
                "link",
                "set",
                port,
                "type",
                "bridge_slave",
                "learning",
                "off",
            ]);
            run(&["ip", "-n", &sw, "link", "set", port, "up"]);
        }
        run(&["ip", "link", "set", &tap, "up"]);
        net
    }

    fn remove(&self) {
        for role in ["plc", "mst", "rog", "sw"] {
            let ns = self.ns(role);
            // Only processes inside this test's own namespaces, by pid.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    run_quiet(&["kill", "-KILL", pid]);
                }
            }
        }
        run_quiet(&["ip", "link", "del", &self.tap()]);
        for role in ["plc", "mst", "rog", "sw"] {
            run_quiet(&["ip", "netns", "del", &self.ns(role)]);
        }
    }

    fn tx_counters(&self) -> (u64, u64) {
        let read = |name: &str| -> u64 {
            let path = format!("/sys/class/net/{}/statistics/{name}", self.tap());
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        (read("tx_packets"), read("tx_bytes"))
    }

    fn rx_packets(&self) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/rx_packets", self.tap());
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Runs a peer script to completion inside namespace `role`.
    fn client(&self, role: &str, script: &str, args: &[&str]) {
        let mut cmd = vec!["ip", "netns", "exec"];
        let ns = self.ns(role);
        cmd.push(&ns);
        cmd.extend(["timeout", "120", "python3"]);
        let path = format!("{PEERS}/{script}");
        cmd.push(&path);
        cmd.extend(args);
        run(&cmd);
    }

    /// Starts a server script in the PLC namespace and waits until it listens.
    fn server(&self, script: &str, port: u16, extra: &[&str]) -> Process {
        let ns = self.ns("plc");
        let plc = self.plc_ip();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "python3",
                &format!("{PEERS}/{script}"),
                &plc,
                &port.to_string(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let process = Process(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "ss",
                    "-Hltn",
                    &format!("sport = :{port}"),
                ])
                .output()
                .expect("ss");
            if String::from_utf8_lossy(&out.stdout).contains("LISTEN") {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "{script} never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A child process killed (by its pid) on drop.
struct Process(Child);

impl Process {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn signal(&self, sig: &str) {
        run(&["kill", &format!("-{sig}"), &self.pid().to_string()]);
    }

    /// Waits until the file `log` (this process's stderr) contains `needle`,
    /// up to `timeout`; fails early if the process exits.
    fn wait_for_text(&mut self, log: &Path, who: &str, needle: &str, timeout: Duration) {
        let text = || std::fs::read_to_string(log).unwrap_or_default();
        let deadline = Instant::now() + timeout;
        while !text().contains(needle) {
            if let Ok(Some(status)) = self.0.try_wait() {
                panic!(
                    "{who} exited ({status}) before saying {needle:?}; stderr:\n{}",
                    text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{who} never said {needle:?}; stderr:\n{}",
                text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the exit status, up to `timeout`.
    fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process {} did not exit within {timeout:?}",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Rules for the test network: the bundled rules with the site lists filled
/// in (the master is the only allowed client and writer).
fn rules_for(net: &Net, dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir rules");
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
    for name in ["modbus.yaml", "s7comm.yaml", "dnp3.yaml", "iec104.yaml"] {
        std::fs::copy(bundled.join(name), rules.join(name)).expect("copy rules");
    }
    let m = net.master_ip();
    let vars = format!(
        "vars:\n  modbus_masters: [{m}]\n  modbus_writers: [{m}]\n  s7_clients: [{m}]\n  s7_writers: [{m}]\n  s7_szl_readers: [{m}]\n  engineering_stations: [{m}]\n  dnp3_masters: [{m}]\n  iec104_control_centres: [{m}]\n"
    );
    std::fs::write(rules.join("vars.yaml"), vars).expect("write vars");
    rules
}

struct Sensor {
    process: Process,
    stderr: PathBuf,
    eve: PathBuf,
}

impl Sensor {
    fn start(net: &Net, dir: &Path, backend: &str, rules: &Path, analyzer_url: &str) -> Sensor {
        let spool = dir.join("spool");
        Sensor::spawn(net, dir, |cmd| {
            cmd.args(["--backend", backend, "--user", "nobody"])
                .arg("--rules")
                .arg(rules)
                .args([
                    "--analyzer",
                    analyzer_url,
                    "--token",
                    "live-test-token",
                    "--sensor-name",
                    "live-test",
                ])
                .arg("--spool")
                .arg(&spool);
        })
    }

    /// `otwatch sensor` on the tap with 2 workers, EVE lines to
    /// `dir/eve.json`, and the options `configure` adds; returns once it
    /// listens.
    fn spawn(net: &Net, dir: &Path, configure: impl FnOnce(&mut Command)) -> Sensor {
        let eve = dir.join("eve.json");
        let stderr = dir.join("sensor.err");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_otwatch"));
        cmd.args(["sensor", "--iface", &net.tap(), "--workers", "2"])
            .args(["--ring-blocks", "8", "--ring-timeout-ms", "20"])
            .arg("--eve")
            .arg(&eve);
        configure(&mut cmd);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start otwatch sensor");
        let mut sensor = Sensor {
            process: Process(child),
            stderr,
            eve,
        };
        sensor.wait_for_stderr("listening on", Duration::from_secs(20));
        sensor
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) {
        self.process
            .wait_for_text(&self.stderr, "sensor", needle, timeout);
    }

    /// The process status fields (Uid, Gid, CapEff…).
    fn proc_status(&self, key: &str) -> String {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.process.pid()))
            .expect("/proc status");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    /// SIGTERM, then the exit status must be success.
    fn stop(self) -> (String, Vec<Value>) {
        self.stop_by("TERM")
    }

    /// Signal `sig` (TERM or INT), then the exit status must be success;
    /// its stderr and EVE lines.
    fn stop_by(mut self, sig: &str) -> (String, Vec<Value>) {
        self.process.signal(sig);
        let status = self.process.wait(Duration::from_secs(30));
        let stderr = self.stderr_text();
        assert!(
            status.success(),
            "sensor exited with {status}; stderr:\n{stderr}"
        );
        let eve = std::fs::read_to_string(&self.eve).expect("EVE file");
        let lines = eve
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad EVE line {l}: {e}")))
            .collect();
        (stderr, lines)
    }
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event_type"] == t).collect()
}

fn alerts_by_signature(lines: &[Value]) -> BTreeMap<u64, usize> {
    let mut by = BTreeMap::new();
    for a in of_type(lines, "alert") {
        *by.entry(a["alert"]["signature_id"].as_u64().unwrap_or(0))
            .or_insert(0) += 1;
    }
    by
}

/// The whole scenario for one back-end: normal polling then attacks, for
/// each protocol, with the sensor on the host side of the tap.
fn sensor_sees_attacks_of_real_peers(id: u8, backend: &str) {
    let net = Net::create(id);
    let dir = tempfile::tempdir().expect("tempdir");
    // The sensor runs as nobody after the drop: its spool lives in here.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let rules = rules_for(&net, dir.path());
    // The real analyzer, in this process, on a free loopback port.
    let analyzer = RealAnalyzer::start("live-test-token");
    let tx_before = net.tx_counters();
    let rx_before = net.rx_packets();
    let sensor = Sensor::start(&net, dir.path(), backend, &rules, &analyzer.url);

    // The sensor dropped root once the sockets were open.
    assert_eq!(
        sensor.proc_status("Uid"),
        "65534 65534 65534 65534",
        "uid after the privilege drop"
    );
    assert_eq!(
        sensor.proc_status("Gid"),
        "65534 65534 65534 65534",
        "gid after the privilege drop"
    );
    assert_eq!(
        sensor.proc_status("CapEff"),
        "0000000000000000",
        "no capabilities left"
    );
    assert_eq!(
        sensor.proc_status("CapPrm"),
        "0000000000000000",
        "no capabilities left"
    );

    let plc = net.plc_ip();
    {
        // Modbus: normal polling, diagnostics with force-listen-only, and writes
        // from a host that is not on any list.
        let _server = net.server("modbus_server.py", 502, &["--identity", "normal"]);
        net.client("mst", "modbus_client.py", &["polling", &plc, "502"]);
        net.client("mst", "modbus_client.py", &["diagnostics", &plc, "502"]);
        net.client("rog", "modbus_client.py", &["rogue-writer", &plc, "502"]);
    }
    {
        // S7comm: normal reads/writes, then PLC stop and hot/cold start.
        let _server = net.server("s7_server.py", 102, &[]);
        net.client("mst", "s7_client.py", &["normal", &plc, "102"]);
        net.client("mst", "s7_client.py", &["stop-start", &plc, "102"]);
    }
    {
        // DNP3: normal polling and controls, then cold restart and disable
        // unsolicited.
        let _server = net.server("dnp3_outstation.py", 20000, &[]);
        net.client("mst", "dnp3_master.py", &["normal", &plc, "20000"]);
        net.client("mst", "dnp3_master.py", &["restart", &plc, "20000"]);
    }
    {
        // IEC 104: the master operates the station (interrogations, clock
        // sync, select-and-execute, set points); the rogue host
        // interrogates it, sets its clock, commands it and stops the link.
        let _server = net.server("iec104_server.py", 2404, &[]);
        net.client("mst", "iec104_client.py", &["control", &plc, "2404"]);
        net.client("rog", "iec104_client.py", &["rogue", &plc, "2404"]);
    }
    // Let the last FINs reach the rings.
    std::thread::sleep(Duration::from_millis(300));

    // Never transmit: the interface the sensor listened on sent nothing while
    // hundreds of frames arrived on it.
    let tx_after = net.tx_counters();
    let rx_after = net.rx_packets();
    assert!(
        rx_after > rx_before + 300,
        "traffic reached the tap: rx {rx_before} -> {rx_after}"
    );
    assert_eq!(
        tx_after,
        tx_before,
        "tx_packets/tx_bytes of {} moved",
        net.tap()
    );

    let (stderr, eve) = sensor.stop();
    eprintln!("{stderr}");
    check_events(&net, &eve);
    check_alerts(&eve);

    // Stats lines come every stats interval while listening; the last one,
    // written once every flow had ended, closes the file and carries the
    // live-capture counters: no kernel drops, under our names and Suricata's.
    let last = eve.last().expect("EVE lines");
    assert_eq!(last["event_type"], "stats", "the final stats line is last");
    let live = &last["stats"]["live_capture"];
    assert_eq!(live["workers"], 2);
    assert_eq!(live["backend"], backend);
    assert_eq!(live["kernel_drops"], 0, "kernel drops: {live}");
    assert!(live["kernel_packets"].as_u64().unwrap_or(0) > 300, "{live}");
    let capture = &last["stats"]["capture"];
    assert_eq!(capture["kernel_drops"], 0, "{capture}");
    assert_eq!(capture["kernel_packets"], live["kernel_packets"]);

    // Asset lines: the latest line of each host says all that is known.
    check_asset_lines(&net, &eve);

    // Every alert reached the analyzer (after the shutdown flush of the spool)
    // and is visible through its API, with the sensor's name.
    let eve_alerts = of_type(&eve, "alert");
    let listed = analyzer.get("/api/v1/alerts?limit=1000");
    let stored: Vec<&Value> = listed["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .collect();
    let ids = |lines: &[&Value]| -> BTreeSet<String> {
        lines
            .iter()
            .map(|a| a["alert_id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(stored.len(), eve_alerts.len(), "alerts stored vs written");
    assert_eq!(
        ids(&stored),
        ids(&eve_alerts),
        "the same alerts, by alert_id"
    );
    assert!(stored.iter().all(|a| a["sensor"] == "live-test"));
    let mut by_rule: BTreeMap<u64, u64> = BTreeMap::new();
    for a in &stored {
        *by_rule
            .entry(a["signature_id"].as_u64().unwrap_or(0))
            .or_insert(0) += 1;
    }
    let mut written: BTreeMap<u64, u64> = BTreeMap::new();
    for a in &eve_alerts {
        *written
            .entry(a["alert"]["signature_id"].as_u64().unwrap_or(0))
            .or_insert(0) += 1;
    }
    assert_eq!(by_rule, written, "alerts per rule in the analyzer");
    let sensors = analyzer.get("/api/v1/sensors");
    assert!(
        sensors.to_string().contains("live-test"),
        "the sensor's stats line reached the analyzer: {sensors}"
    );
}

/// The analyzer, run in this process on a free loopback port for one test.
struct RealAnalyzer {
    url: String,
    /// The API token its configuration sets.
    api_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl RealAnalyzer {
    fn start(token: &str) -> RealAnalyzer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = otwatch_analyzer::Config::new(dir.path().join("data"), token);
        config.listen = "127.0.0.1:0".parse().expect("addr");
        let api_token = "live-test-api-token".to_string();
        config.api_token = Some(api_token.clone());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let server = otwatch_analyzer::Server::bind(config)
                    .await
                    .expect("analyzer");
                let _ = addr_tx.send(server.local_addr());
                let _ = server
                    .run(None, async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let addr = addr_rx.recv().expect("analyzer address");
        RealAnalyzer {
            url: format!("http://{addr}"),
            api_token,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// GET `path` and parse the JSON body.
    fn get(&self, path: &str) -> Value {
        http_get(
            self.url.trim_start_matches("http://"),
            &self.api_token,
            path,
        )
    }
}

impl Drop for RealAnalyzer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Events the scenario must produce, with the reason beside each.
fn check_events(net: &Net, eve: &[Value]) {
    let modbus = of_type(eve, "modbus");
    // Force listen only: diagnostics (8) sub-function 4, from the master.
    assert!(
        modbus
            .iter()
            .any(|e| e["modbus"]["request"]["function_code"] == 8
                && e["modbus"]["request"]["diagnostic"]["subfunction"] == 4
                && e["src_ip"] == net.master_ip()),
        "force listen only"
    );
    // The rogue host's writes: 6, 16, 5, 15, 6.
    let rogue_writes: Vec<u64> = modbus
        .iter()
        .filter(|e| e["src_ip"] == net.rogue_ip() && e["modbus"]["request"]["access"] == "write")
        .filter_map(|e| e["modbus"]["request"]["function_code"].as_u64())
        .collect();
    assert_eq!(
        rogue_writes,
        [6, 16, 5, 15, 6],
        "writes from the unlisted host"
    );

    let s7 = of_type(eve, "s7comm");
    let s7_functions: Vec<&str> = s7
        .iter()
        .filter_map(|e| e["s7comm"]["request"]["function_name"].as_str())
        .collect();
    assert_eq!(
        s7_functions.iter().filter(|f| **f == "plc_stop").count(),
        2,
        "two PLC STOPs"
    );
    let starts: Vec<&str> = s7
        .iter()
        .filter(|e| e["s7comm"]["request"]["function_name"] == "plc_control")
        .filter_map(|e| e["s7comm"]["request"]["start_mode"].as_str())
        .collect();
    assert!(
        starts.contains(&"hot_start") && starts.contains(&"cold_start"),
        "hot and cold start: {starts:?}"
    );

    let dnp3 = of_type(eve, "dnp3");
    let dnp3_functions: BTreeSet<&str> = dnp3
        .iter()
        .filter_map(|e| e["dnp3"]["request"]["function"].as_str())
        .collect();
    for f in [
        "read",
        "cold_restart",
        "warm_restart",
        "disable_unsolicited",
        "direct_operate",
    ] {
        assert!(dnp3_functions.contains(f), "DNP3 {f}: {dnp3_functions:?}");
    }

    let iec104 = of_type(eve, "iec104");
    let activations = |src: String| -> Vec<(String, bool)> {
        iec104
            .iter()
            .filter(|e| e["src_ip"] == src && e["iec104"]["asdu"]["cause_name"] == "activation")
            .map(|e| {
                let a = &e["iec104"]["asdu"];
                (
                    a["type_name"].as_str().unwrap_or("").to_owned(),
                    a["objects"][0]["select"] == true,
                )
            })
            .collect()
    };
    let rogue = activations(net.rogue_ip());
    let sc = |select| ("C_SC_NA_1".to_owned(), select);
    assert_eq!(
        rogue
            .iter()
            .filter(|a| a.0 == "C_SC_NA_1")
            .cloned()
            .collect::<Vec<_>>(),
        [sc(false), sc(true), sc(false)],
        "the rogue's direct command, select and execute: {rogue:?}"
    );
    let master = activations(net.master_ip());
    for t in [
        "C_IC_NA_1",
        "C_CI_NA_1",
        "C_CS_NA_1",
        "C_DC_NA_1",
        "C_SE_NC_1",
        "C_RC_NA_1",
    ] {
        assert!(master.iter().any(|a| a.0 == t), "master {t}: {master:?}");
    }
    // Every command of the master was answered.
    assert!(
        iec104
            .iter()
            .filter(|e| e["iec104"]["command"]["response"] == "confirmed")
            .count()
            >= 10,
        "confirmations"
    );

    // Fanout keeps each flow whole on one worker: one flow record per TCP
    // connection the clients made, each with packets both ways (a flow split
    // over two workers would end as two one-sided records).
    let flows: Vec<&Value> = of_type(eve, "flow")
        .into_iter()
        .filter(|f| f["proto"] == "TCP")
        .collect();
    let per_port = |port: u64| flows.iter().filter(|f| f["dest_port"] == port).count();
    assert_eq!(
        per_port(502),
        3,
        "Modbus connections: polling, diagnostics, rogue"
    );
    assert_eq!(per_port(102), 2, "S7 connections: normal, stop-start");
    assert_eq!(per_port(20000), 2, "DNP3 connections: normal, restart");
    assert_eq!(per_port(2404), 2, "IEC 104 connections: control, rogue");
    for f in &flows {
        assert!(
            f["flow"]["pkts_toserver"].as_u64() > Some(0)
                && f["flow"]["pkts_toclient"].as_u64() > Some(0),
            "one-sided flow: {f}"
        );
    }
}

/// The latest `asset` line of each host of the full scenario: the PLC serves
/// all four protocols to the master; the rogue host is a Modbus and IEC 104
/// client.
fn check_asset_lines(net: &Net, eve: &[Value]) {
    let mut latest: BTreeMap<String, &Value> = BTreeMap::new();
    for line in of_type(eve, "asset") {
        let ip = line["asset"]["ip"].as_str().unwrap_or("").to_owned();
        latest.insert(ip, &line["asset"]);
    }
    assert_eq!(
        latest.keys().cloned().collect::<BTreeSet<String>>(),
        BTreeSet::from([net.plc_ip(), net.master_ip(), net.rogue_ip()]),
        "hosts with asset lines"
    );
    let plc = latest[&net.plc_ip()];
    assert_eq!(plc["role"], "server");
    assert_eq!(
        plc["protocols"],
        serde_json::json!(["modbus", "dnp3", "s7comm", "iec104"])
    );
    // Its station addresses: Modbus unit 1, DNP3 outstation 1 (the peers'
    // defaults), IEC 104 common address 47.
    let stations: Vec<(String, String, u64)> = plc["stations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["protocol"].as_str().unwrap_or("").to_owned(),
                        s["role"].as_str().unwrap_or("").to_owned(),
                        s["address"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stations.contains(&("iec104".to_owned(), "controlled".to_owned(), 47)),
        "{plc}"
    );
    // Three servers share the PLC's address. The Modbus device
    // identification (polling run) came first, the S7 SZL read later: each
    // identity field holds its most recent value, whichever worker saw it.
    assert_eq!(plc["identity"]["source"], "s7_szl", "{plc}");
    assert_eq!(plc["identity"]["vendor"], "Siemens", "{plc}");
    let master = latest[&net.master_ip()];
    assert_eq!(master["role"], "client");
    assert_eq!(
        master["protocols"],
        serde_json::json!(["modbus", "dnp3", "s7comm", "iec104"])
    );
    let rogue = latest[&net.rogue_ip()];
    assert_eq!(rogue["role"], "client");
    assert_eq!(rogue["protocols"], serde_json::json!(["modbus", "iec104"]));
    assert_eq!(
        rogue["peers"],
        serde_json::json!([
            {"ip": net.plc_ip(), "protocol": "modbus", "port": 502},
            {"ip": net.plc_ip(), "protocol": "iec104", "port": 2404}
        ])
    );
}

/// Alerts of the bundled rules for the attacks (counts as in the rules' own
/// capture tests).
fn check_alerts(eve: &[Value]) {
    let by = alerts_by_signature(eve);
    let expect = [
        (110001, 1, "Modbus force listen only"),
        (
            110009,
            1,
            "Modbus client not a configured master (limit 1 per host)",
        ),
        (110010, 5, "Modbus writes from a host not allowed to write"),
        (120001, 2, "S7 PLC stop, twice"),
        (120003, 1, "S7 cold start"),
        (130001, 1, "DNP3 cold restart"),
        (130006, 1, "DNP3 disable unsolicited"),
        (
            170001,
            4,
            "IEC 104 commands from the rogue: direct (refused), select, execute, set point",
        ),
        (170003, 1, "IEC 104 clock synchronisation from the rogue"),
        (
            170004,
            2,
            "IEC 104 general and counter interrogation from the rogue",
        ),
        (170007, 1, "IEC 104 STOPDT from the rogue"),
        (170011, 1, "IEC 104 STARTDT from the rogue"),
    ];
    for (sid, n, why) in expect {
        assert_eq!(
            by.get(&sid).copied().unwrap_or(0),
            n,
            "{why} ({sid}); all alerts: {by:?}"
        );
    }
}

#[test]
fn afpacket_sensor_sees_attacks_of_real_peers() {
    if !live_tests_enabled("afpacket_sensor_sees_attacks_of_real_peers") {
        return;
    }
    sensor_sees_attacks_of_real_peers(1, "afpacket");
}

#[test]
fn libpcap_sensor_sees_attacks_of_real_peers() {
    if !cfg!(feature = "libpcap") {
        eprintln!(
            "libpcap_sensor_sees_attacks_of_real_peers: skipped: built without --features libpcap"
        );
        return;
    }
    if !live_tests_enabled("libpcap_sensor_sees_attacks_of_real_peers") {
        return;
    }
    sensor_sees_attacks_of_real_peers(2, "libpcap");
}

fn rule(id: u32, name: &str, function: &str) -> String {
    format!(
        "rules:\n  - id: {id}\n    rev: 1\n    name: {name}\n    severity: high\n    protocol: modbus\n    category: Test\n    description: A live reload test rule.\n    match:\n      function: {function}\n"
    )
}

/// SIGHUP reloads the rules between two packets: a rule file with an error
/// keeps the old rules (and says why, with file:line), a good one replaces
/// them; capture goes on throughout, nothing dropped. SIGHUP also opens the
/// EVE file again, as logrotate expects: the lines before the rotation are
/// in the moved file, those after it in the new one, none lost.
#[test]
fn sighup_reloads_rules_and_keeps_old_rules_on_error() {
    if !live_tests_enabled("sighup_reloads_rules_and_keeps_old_rules_on_error") {
        return;
    }
    let net = Net::create(3);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, rule(990001, "test diagnostics", "diagnostics")).expect("write rules");
    let analyzer = RealAnalyzer::start("live-test-token");
    let mut sensor = Sensor::start(&net, dir.path(), "afpacket", &rules, &analyzer.url);
    let plc = net.plc_ip();
    let _server = net.server("modbus_server.py", 502, &["--identity", "normal"]);

    // 1. The first rules: diagnostics (18 diagnostics requests in the scenario).
    net.client("mst", "modbus_client.py", &["diagnostics", &plc, "502"]);

    // 2. A broken file: the old rules stay.
    std::fs::write(&rules, "rules:\n  - id: 990002\n    name: [unclosed\n").expect("write rules");
    sensor.process.signal("HUP");
    sensor.wait_for_stderr("rules not reloaded", Duration::from_secs(10));
    assert!(
        sensor.stderr_text().contains("rules.yaml:"),
        "the error names the file: {}",
        sensor.stderr_text()
    );
    net.client("mst", "modbus_client.py", &["diagnostics", &plc, "502"]);

    // 3. A good file: new rules from the next packet on.
    std::fs::write(
        &rules,
        rule(
            990003,
            "test read holding registers",
            "read_holding_registers",
        ),
    )
    .expect("write rules");
    // logrotate's `create 0640 nobody`: the file is moved, a new one made
    // for the user the sensor runs as, then SIGHUP.
    let rotated = dir.path().join("eve.json.1");
    std::fs::rename(dir.path().join("eve.json"), &rotated).expect("rotate");
    std::fs::write(dir.path().join("eve.json"), "").expect("new EVE file");
    let status = Command::new("chown")
        .arg("nobody")
        .arg(dir.path().join("eve.json"))
        .status()
        .expect("chown");
    assert!(status.success());
    sensor.process.signal("HUP");
    sensor.wait_for_stderr("rules reloaded (1 rules)", Duration::from_secs(10));
    assert!(
        sensor.stderr_text().contains("EVE file reopened"),
        "{}",
        sensor.stderr_text()
    );
    // Workers take the new rules within a poll interval.
    std::thread::sleep(Duration::from_millis(300));
    net.client("mst", "modbus_client.py", &["diagnostics", &plc, "502"]);
    std::thread::sleep(Duration::from_millis(200));

    let (stderr, after) = sensor.stop();
    let before: Vec<Value> = std::fs::read_to_string(&rotated)
        .expect("rotated EVE file")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad EVE line {l}: {e}")))
        .collect();
    // Run 1 is in the moved file, run 3 (after the reopen was said) in the
    // new one; run 2's lines in whichever file was open when its batch was
    // written.
    let (b, a) = (alerts_by_signature(&before), alerts_by_signature(&after));
    assert!(b.contains_key(&990001) && !b.contains_key(&990003), "{b:?}");
    assert_eq!(a.get(&990003).copied(), Some(3), "{a:?}");
    let eve: Vec<Value> = before.into_iter().chain(after).collect();
    let by = alerts_by_signature(&eve);
    // The diagnostics scenario sends 13 diagnostics requests and 3 reads of
    // holding registers per run.
    let per_run_diag = of_type(&eve, "modbus")
        .iter()
        .filter(|e| e["modbus"]["request"]["function_code"] == 8)
        .count()
        / 3;
    assert_eq!(per_run_diag, 13, "diagnostics requests per run");
    assert_eq!(
        by.get(&990001).copied(),
        Some(2 * per_run_diag),
        "old rules for runs 1 and 2: {by:?}"
    );
    assert_eq!(
        by.get(&990002),
        None,
        "the broken rule never loaded: {by:?}"
    );
    assert_eq!(
        by.get(&990003).copied(),
        Some(3),
        "new rule for run 3 only: {by:?}"
    );
    // Nothing lost across reloads: every transaction of the three runs.
    let flows = of_type(&eve, "flow")
        .into_iter()
        .filter(|f| f["dest_port"] == 502)
        .count();
    assert_eq!(flows, 3, "three connections, each whole");
    assert!(stderr.contains(", 0 dropped,"), "no kernel drops: {stderr}");
}

/// `otwatch run --iface`: the analyzer and a live sensor in one process.
struct RunAll {
    process: Process,
    stderr: PathBuf,
    /// HOST:PORT of its HTTP listener.
    host: String,
    /// The API token of its login link.
    api_token: String,
}

impl RunAll {
    fn start(net: &Net, dir: &Path, backend: &str, rules: &Path) -> RunAll {
        RunAll::start_with(net, dir, backend, rules, &[])
    }

    /// As [`RunAll::start`], with more options.
    fn start_with(net: &Net, dir: &Path, backend: &str, rules: &Path, extra: &[&str]) -> RunAll {
        let stderr = dir.join("run.err");
        let child = Command::new(env!("CARGO_BIN_EXE_otwatch"))
            .args(["run", "--iface", &net.tap(), "--workers", "2"])
            .args(["--backend", backend])
            .args(extra)
            .args(["--listen", "127.0.0.1:0", "--stats-interval", "1"])
            .args(["--ring-blocks", "8", "--ring-timeout-ms", "20"])
            .arg("--data")
            .arg(dir.join("data"))
            .arg("--rules")
            .arg(rules)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start otwatch run");
        let mut run = RunAll {
            process: Process(child),
            stderr,
            host: String::new(),
            api_token: String::new(),
        };
        run.wait_for_stderr("listening on", Duration::from_secs(30));
        // The analyzer was bound on a free port before the capture started.
        let text = run.stderr_text();
        // `serving http://HOST:PORT/?token=TOKEN`: the login link, with the
        // API token the process made in its data directory.
        (run.host, run.api_token) = login_link(&text);
        run
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) {
        self.process
            .wait_for_text(&self.stderr, "otwatch run", needle, timeout);
    }

    fn get(&self, path: &str) -> Value {
        http_get(&self.host, &self.api_token, path)
    }

    /// POST the JSON `body` to `path` with the API token; status and body.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        http_post(&self.host, &self.api_token, path, body)
    }

    /// Polls `path` until `done` holds for its answer. After `timeout` it
    /// stops the process (for its summary) and panics with the last answer.
    fn get_until(&mut self, path: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.get(path);
            if done(&v) {
                return v;
            }
            if Instant::now() >= deadline {
                self.process.signal("TERM");
                let _ = self.process.0.wait();
                panic!(
                    "{path} never reached the expected state: {v}\nstderr:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `otwatch run --iface <veth>` as a user starts it: one process holding the
/// analyzer and 2 capture workers. Real pymodbus peers poll the PLC and
/// then a rogue host writes to it; the alerts, the asset inventory and the
/// sensor's stats are read back from the process's own API while it runs,
/// then SIGTERM stops it cleanly.
fn run_iface_serves_live_alerts_and_assets(id: u8, backend: &str) {
    let net = Net::create(id);
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = rules_for(&net, dir.path());
    let tx_before = net.tx_counters();
    let mut run = RunAll::start(&net, dir.path(), backend, &rules);
    assert!(
        run.get("/api/v1/alerts")["alerts"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "nothing before the traffic"
    );

    let plc = net.plc_ip();
    let _server = net.server("modbus_server.py", 502, &["--identity", "normal"]);
    net.client("mst", "modbus_client.py", &["polling", &plc, "502"]);
    // The attack, three times over: three connections from one host, which
    // the kernel's flow hash spreads over the two workers.
    for _ in 0..3 {
        net.client("rog", "modbus_client.py", &["rogue-writer", &plc, "502"]);
    }

    // Alerts per rule, with the reason (the counts of the rules' own tests on
    // recorded captures of the same scenarios):
    let expected: BTreeMap<u64, (u64, String)> = BTreeMap::from([
        // Report server id, read twice by the polling master; limit 1 per
        // client and server per hour.
        (110005, (1, net.master_ip())),
        // Register 1000 written twice by the polling master; it does not
        // exist, and the PLC answers with an exception.
        (110011, (2, net.master_ip())),
        // The rogue host is not a master: limit 1 per source per hour,
        // counted once whichever workers its three connections landed on
        // (thresholds are shared by the workers).
        (110009, (1, net.rogue_ip())),
        // Five writes per rogue-writer run (6, 16, 5, 15, 6), three runs.
        (110010, (15, net.rogue_ip())),
    ]);
    let total: u64 = expected.values().map(|(n, _)| n).sum();
    let count = |v: &Value| v["alerts"].as_array().map_or(0, Vec::len) as u64;
    run.get_until("/api/v1/alerts?limit=1000", Duration::from_secs(30), |v| {
        count(v) >= total
    });
    // Nothing more comes after a few more batches.
    std::thread::sleep(Duration::from_secs(3));
    let listed = run.get("/api/v1/alerts?limit=1000");
    let mut by_rule: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    for a in listed["alerts"].as_array().expect("alerts") {
        assert_eq!(a["sensor"], "otwatch-run", "{a}");
        let e = by_rule
            .entry(a["signature_id"].as_u64().unwrap_or(0))
            .or_insert((0, String::new()));
        e.0 += 1;
        let src = a["src_ip"].as_str().unwrap_or("").to_owned();
        assert!(e.1.is_empty() || e.1 == src, "one source per rule: {a}");
        e.1 = src;
    }
    assert_eq!(by_rule, expected, "alerts per rule and their source");

    // The inventory fills in while capture runs (asset lines every stats
    // interval, the sessions still open or just closed).
    let assets = run.get_until("/api/v1/assets", Duration::from_secs(20), |v| {
        let ips: BTreeSet<&str> = v["assets"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["ip"].as_str()).collect())
            .unwrap_or_default();
        ips.contains(net.plc_ip().as_str())
            && ips.contains(net.master_ip().as_str())
            && ips.contains(net.rogue_ip().as_str())
            && v["assets"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    x["ip"] == net.plc_ip() && x["peers"].as_array().map_or(0, Vec::len) == 2
                })
            })
    });
    let find = |ip: &str| -> &Value {
        assets["assets"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["ip"] == ip))
            .unwrap_or_else(|| panic!("asset {ip}: {assets}"))
    };
    let plc_asset = find(&net.plc_ip());
    assert_eq!(plc_asset["roles"], serde_json::json!(["server"]));
    assert_eq!(plc_asset["protocols"], serde_json::json!(["modbus"]));
    assert_eq!(plc_asset["sensors"], serde_json::json!(["otwatch-run"]));
    let peers: BTreeSet<(String, u64)> = plc_asset["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| {
            (
                p["ip"].as_str().unwrap_or("").to_owned(),
                p["port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        peers,
        BTreeSet::from([(net.master_ip(), 502), (net.rogue_ip(), 502)])
    );
    let identity = &plc_asset["identity"];
    assert_eq!(identity["vendor"], "otwatch-test-vendor", "{plc_asset}");
    assert_eq!(identity["source"], "modbus_device_id");
    assert_eq!(
        plc_asset["identity_changes"], 0,
        "the same identity in every report"
    );
    for ip in [net.master_ip(), net.rogue_ip()] {
        let a = find(&ip);
        assert_eq!(a["roles"], serde_json::json!(["client"]), "{a}");
        assert_eq!(a["protocols"], serde_json::json!(["modbus"]), "{a}");
    }

    // Periodic stats reached the analyzer too, with the kernel's counters
    // under Suricata's names (the sensor health view reads `drops` there).
    let sensors = run.get_until("/api/v1/sensors", Duration::from_secs(10), |v| {
        v["sensors"].as_array().is_some_and(|s| {
            s.iter().any(|x| {
                x["name"] == "otwatch-run"
                    && x["stats"]["capture"]["kernel_packets"]
                        .as_u64()
                        .unwrap_or(0)
                        > 100
            })
        })
    });
    let me = sensors["sensors"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["name"] == "otwatch-run"))
        .expect("the in-process sensor");
    assert_eq!(me["last_stats"]["drops"], 0, "{me}");
    assert_eq!(me["stats"]["live_capture"]["workers"], 2, "{me}");
    assert_eq!(me["stats"]["live_capture"]["backend"], backend, "{me}");

    // The network is quiet now: no frame will drive the flow table's idle
    // sweep, yet the four closed Modbus connections (polling and three
    // rogue runs) must time out (30 s after their FINs) on the workers'
    // idle ticks, and the periodic stats say so.
    let sensors = run.get_until("/api/v1/sensors", Duration::from_secs(60), |v| {
        v["sensors"].as_array().is_some_and(|s| {
            s.iter().any(|x| {
                x["name"] == "otwatch-run" && x["stats"]["flow"]["timed_out"].as_u64() == Some(4)
            })
        })
    });
    let flow = &sensors["sensors"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["name"] == "otwatch-run"))
        .expect("the in-process sensor")["stats"]["flow"];
    assert_eq!(
        flow["created"], 4,
        "the four connections, nothing else: {flow}"
    );
    assert_eq!(flow["active"], 0, "{flow}");

    // SIGTERM: a clean stop, every flow flushed, nothing dropped.
    run.process.signal("TERM");
    let status = run.process.wait(Duration::from_secs(30));
    let stderr = run.stderr_text();
    assert!(
        status.success(),
        "otwatch run exited with {status}; stderr:\n{stderr}"
    );
    assert!(stderr.contains(", 0 dropped,"), "no kernel drops: {stderr}");
    assert!(
        stderr.contains("0 pending in the spool"),
        "every line delivered before the analyzer stopped: {stderr}"
    );
    assert_eq!(
        net.tx_counters(),
        tx_before,
        "the sensor never transmits on {}",
        net.tap()
    );
}

#[test]
fn afpacket_run_iface_serves_live_alerts_and_assets() {
    if !live_tests_enabled("afpacket_run_iface_serves_live_alerts_and_assets") {
        return;
    }
    run_iface_serves_live_alerts_and_assets(4, "afpacket");
}

#[test]
fn libpcap_run_iface_serves_live_alerts_and_assets() {
    if !cfg!(feature = "libpcap") {
        eprintln!(
            "libpcap_run_iface_serves_live_alerts_and_assets: skipped: built without --features libpcap"
        );
        return;
    }
    if !live_tests_enabled("libpcap_run_iface_serves_live_alerts_and_assets") {
        return;
    }
    run_iface_serves_live_alerts_and_assets(5, "libpcap");
}

/// How long the live learning tests learn: enough for the master's
/// polling of the three protocols (about 4 s on an idle machine) even with
/// the other live tests and their Python peers starting beside them.
const LEARN_SECS: u64 = 40;

/// Whether an EVE line is a deviation alert (rules/default/baseline.yaml).
fn is_deviation(line: &Value) -> bool {
    line["event_type"] == "alert"
        && (150001..=150012).contains(&line["alert"]["signature_id"].as_u64().unwrap_or(0))
}

/// The deviation alerts of `eve`, one JSON line each (for failure messages).
fn deviation_text(eve: &[Value]) -> String {
    let lines: Vec<String> = eve
        .iter()
        .filter(|l| is_deviation(l))
        .map(Value::to_string)
        .collect();
    if lines.is_empty() {
        "(none)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// The EVE lines written so far; a line still being written is left out.
fn eve_so_far(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The master's polling of the PLC: Modbus, S7comm and DNP3, one
/// connection each.
fn master_polls(net: &Net) {
    let plc = net.plc_ip();
    net.client("mst", "modbus_client.py", &["polling", &plc, "502"]);
    net.client("mst", "s7_client.py", &["normal", &plc, "102"]);
    net.client("mst", "dnp3_master.py", &["normal", &plc, "20000"]);
}

/// What a client did, without the times: each operation in review order,
/// with its qualifiers, ranges and count.
fn operations_of(client: &otwatch_rules::baseline::Client, counts: bool) -> Vec<String> {
    client
        .ops_in_order()
        .iter()
        .map(|e| {
            let count = if counts {
                format!(" x{}", e.seen.count)
            } else {
                String::new()
            };
            format!(
                "{} {} {:?} {:?} at [{}]{count}",
                e.class.name(),
                e.code,
                e.name,
                e.quals,
                e.ranges,
            )
        })
        .collect()
}

/// `otwatch sensor --learn` on live traffic: the master polls the PLC
/// over Modbus (pymodbus), S7comm (python-snap7) and DNP3 (dnp3py) while
/// the sensor learns; the baseline it writes names the three servers with
/// the master as their only client, doing what `otwatch learn` learned from
/// the recordings of the same scenarios (rules/default/baselines/). Once it
/// enforces the file, the same polling again raises no deviation, while a
/// host that never spoke to the PLC raises one new-client deviation per
/// protocol (a Modbus rogue writer, a new SZL reader and a new DNP3 master),
/// and a first write or first control for each of its writes and controls.
fn learns_the_plant_live_then_flags_new_clients(id: u8) {
    use otwatch_proto::registry::ProtocolId;
    use otwatch_rules::baseline::{file, OpClass, ServerKey};

    let net = Net::create(id);
    let dir = tempfile::tempdir().expect("tempdir");
    let plant = dir.path().join("plant.yaml");
    let (plc, master, rogue) = (net.plc_ip(), net.master_ip(), net.rogue_ip());
    // The servers listen before learning starts: nothing but the polling
    // falls in the learning period.
    let _servers = [
        net.server("modbus_server.py", 502, &["--identity", "normal"]),
        net.server("s7_server.py", 102, &[]),
        net.server("dnp3_outstation.py", 20000, &[]),
    ];
    let learn = format!("{LEARN_SECS}s");
    let started = Instant::now();
    let mut sensor = Sensor::spawn(&net, dir.path(), |cmd| {
        cmd.arg("--baseline").arg(&plant).args(["--learn", &learn]);
    });
    sensor.wait_for_stderr("learning the baseline into", Duration::from_secs(5));

    // 1. Learning: the master's polling, well within the period.
    master_polls(&net);
    let polled = started.elapsed();
    eprintln!("the master's polling ended {polled:?} into the learning period");
    assert!(
        polled + Duration::from_secs(2) < Duration::from_secs(LEARN_SECS),
        "the master's polling took {polled:?}, too close to the {LEARN_SECS} s learning period \
         (a loaded machine?): it would be learned only in part"
    );
    sensor.wait_for_stderr(
        "enforcing the learned baseline",
        Duration::from_secs(LEARN_SECS + 20),
    );
    eprintln!("enforcing {:?} after the start", started.elapsed());
    let stderr = sensor.stderr_text();
    assert!(
        stderr.contains("learned 3 server(s), 3 client/server pair(s), "),
        "the summary of what was learned: {stderr}"
    );
    assert!(
        stderr.contains(&format!("; wrote {}", plant.display())),
        "{stderr}"
    );
    assert!(
        !stderr.contains("learning limits left out"),
        "nothing dropped: {stderr}"
    );

    // 2. The file: three servers on the PLC, the master the only client of
    // each, doing what it did in the recorded captures.
    let learned = file::load(&plant).unwrap_or_else(|e| panic!("{}: {e}", plant.display()));
    let text = std::fs::read_to_string(&plant).expect("baseline");
    let plc_addr: std::net::IpAddr = plc.parse().expect("address");
    let key = |protocol: &str, port: u16| ServerKey {
        ip: plc_addr,
        protocol: ProtocolId::from_name(protocol).expect("protocol"),
        port,
    };
    let servers = [
        (key("modbus", 502), "modbus_polling.yaml"),
        (key("s7comm", 102), "s7comm_snap7.yaml"),
        (key("dnp3", 20000), "dnp3_dnp3py.yaml"),
    ];
    assert_eq!(
        learned.servers().map(|(k, _)| *k).collect::<BTreeSet<_>>(),
        servers.iter().map(|(k, _)| *k).collect::<BTreeSet<_>>(),
        "the servers learned:\n{text}"
    );
    assert_eq!(
        learned.learned.sources,
        [format!("interface {}", net.tap())]
    );
    assert!(learned.dropped.is_empty(), "{text}");
    let recorded_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default/baselines");
    // Transactions of one polling run per protocol (from the recordings).
    let mut per_run: BTreeMap<u16, u64> = BTreeMap::new();
    for (key, recorded) in &servers {
        let server = learned.server(key).expect("server");
        assert_eq!(
            server
                .clients
                .keys()
                .map(|ip| ip.to_string())
                .collect::<Vec<_>>(),
            [master.clone()],
            "the only client of {key:?}:\n{text}"
        );
        let client = &server.clients.values().next().expect("client");
        let path = recorded_dir.join(recorded);
        let recorded = file::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (_, rec_server) = recorded.servers().next().expect("recorded server");
        let rec_client = rec_server.clients.values().next().expect("recorded client");
        // DNP3's unsolicited responses (and their confirmations) come on the
        // outstation's timer: their number differs by a few between runs.
        let timed = key.port == 20000;
        assert_eq!(
            operations_of(client, !timed),
            operations_of(rec_client, !timed),
            "{key:?}: live learning vs `otwatch learn` of {}:\n{text}",
            path.display()
        );
        let slack = if timed { 4 } else { 0 };
        assert!(
            client.seen.count + slack >= rec_client.seen.count
                && client.seen.count <= rec_client.seen.count + slack,
            "{key:?}: {} transactions learned live, {} from the recording",
            client.seen.count,
            rec_client.seen.count
        );
        assert_eq!(server.stations, rec_server.stations, "{key:?}");
        per_run.insert(key.port, client.seen.count);
    }

    // 3. Enforcing: the same polling again, then a host new to the PLC
    // speaks each protocol.
    master_polls(&net);
    net.client("rog", "modbus_client.py", &["rogue-writer", &plc, "502"]);
    net.client("rog", "s7_client.py", &["normal", &plc, "102"]);
    net.client("rog", "dnp3_master.py", &["normal", &plc, "20000"]);
    // Wait for the rogue's three deviations to be written.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let so_far = eve_so_far(&sensor.eve);
        let ports: BTreeSet<u64> = so_far
            .iter()
            .filter(|l| is_deviation(l) && l["src_ip"] == rogue.as_str())
            .filter_map(|l| l["dest_port"].as_u64())
            .collect();
        if ports.len() == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deviations of the rogue host came for ports {ports:?} only, not all of 102, 502, \
             20000; so far:\n{}\nstderr:\n{}",
            deviation_text(&so_far),
            sensor.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // 4. SIGINT: a clean stop; then the whole EVE file.
    let (stderr, eve) = sensor.stop_by("INT");
    eprintln!("{stderr}");
    let all_deviations: Vec<&Value> = eve.iter().filter(|l| is_deviation(l)).collect();
    let all = deviation_text(&eve);
    // Beside its new-client alert, each write and control of the rogue is
    // a first write or first control: as many as the distinct write and
    // control operations it did (each once an hour). The rogue runs the
    // master's S7 and DNP3 scenarios, so theirs are those learned from the
    // master; its Modbus writes are the rogue writer's four (functions 6,
    // 16, 5 and 15, as in pcaps/modbus_attack_rogue_write.pcap).
    let distinct = |port: u16, class: fn(OpClass) -> bool| {
        learned
            .server(
                &servers
                    .iter()
                    .find(|(k, _)| k.port == port)
                    .expect("server")
                    .0,
            )
            .and_then(|s| s.clients.values().next())
            .map_or(0, |c| c.ops.values().filter(|e| class(e.class)).count())
    };
    let is_write = |c: OpClass| c == OpClass::Write;
    let mut firsts: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    firsts.insert((150_009, 502), 4);
    for port in [102, 20000] {
        firsts.insert((150_009, u64::from(port)), distinct(port, is_write));
        firsts.insert(
            (150_011, u64::from(port)),
            distinct(port, OpClass::is_control),
        );
    }
    firsts.retain(|_, n| *n > 0);
    let mut got_firsts: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for d in &all_deviations {
        let id = d["alert"]["signature_id"].as_u64().unwrap_or(0);
        if id != 150_002 {
            assert_eq!(d["src_ip"], rogue.as_str(), "{d}");
            let kind = if id == 150_009 {
                "first_write"
            } else {
                "first_control"
            };
            assert_eq!(d["baseline"]["deviation"], kind, "{d}");
            let port = d["dest_port"].as_u64().unwrap_or(0);
            *got_firsts.entry((id, port)).or_insert(0) += 1;
        }
    }
    assert_eq!(
        got_firsts, firsts,
        "first writes and controls of the rogue:\n{all}"
    );
    assert!(
        firsts.contains_key(&(150_011, 20000)),
        "the DNP3 master operated points"
    );
    let deviations: Vec<&&Value> = all_deviations
        .iter()
        .filter(|d| d["alert"]["signature_id"] == 150_002)
        .collect();
    // Exactly one new-client deviation per protocol, from the rogue host:
    // it is raised once per client, server and port per hour.
    let mut got: Vec<(u64, String, u64)> = deviations
        .iter()
        .map(|d| {
            (
                d["alert"]["signature_id"].as_u64().unwrap_or(0),
                d["src_ip"].as_str().unwrap_or("").to_owned(),
                d["dest_port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    got.sort();
    let mut expected: Vec<(u64, String, u64)> = [502, 102, 20000]
        .into_iter()
        .map(|port| (150002, rogue.clone(), port))
        .collect();
    expected.sort();
    assert_eq!(
        got, expected,
        "deviation alerts (signature, source, port):\n{all}"
    );
    for d in &deviations {
        let b = &d["baseline"];
        let port = d["dest_port"].as_u64().unwrap_or(0);
        let protocol = match port {
            502 => "modbus",
            102 => "s7comm",
            _ => "dnp3",
        };
        assert_eq!(d["dest_ip"], plc.as_str(), "{d}");
        assert_eq!(b["deviation"], "new_client", "{d}");
        assert_eq!(b["server"], plc.as_str(), "{d}");
        assert_eq!(b["port"], port, "{d}");
        assert_eq!(b["protocol"], protocol, "{d}");
        assert_eq!(b["client"], rogue.as_str(), "{d}");
        assert_eq!(
            b["learned"],
            format!("clients {master}"),
            "what was learned names the master: {d}"
        );
    }
    assert!(
        !eve.iter()
            .any(|l| is_deviation(l) && l["src_ip"] == master.as_str()),
        "the master's polling raised deviations:\n{all}"
    );

    // Both polling runs were seen whole: one connection per run and
    // protocol, and each transaction of the enforcing run was checked (the
    // same transaction events as in the learning run).
    let flows = |src: &str, port: u64| {
        of_type(&eve, "flow")
            .iter()
            .filter(|f| f["src_ip"] == src && f["dest_port"] == port)
            .count()
    };
    for port in [502, 102, 20000] {
        assert_eq!(
            flows(&master, port),
            2,
            "the master's connections to {port}"
        );
        assert_eq!(flows(&rogue, port), 1, "the rogue's connections to {port}");
    }
    for (event_type, port) in [("modbus", 502u16), ("s7comm", 102), ("dnp3", 20000)] {
        let from_master = of_type(&eve, event_type)
            .iter()
            .filter(|e| e["src_ip"] == master.as_str())
            .count() as u64;
        // The outstation sends unsolicited responses on a timer (every 50
        // ms while it has events), so DNP3 runs differ by a few; the
        // requests are the same.
        let slack = if port == 20000 { 4 } else { 0 };
        let want = 2 * per_run[&port];
        assert!(
            from_master + slack >= want && from_master <= want + slack,
            "{event_type} transactions of the master's two runs: {from_master}, expected {want}"
        );
    }

    // The final stats: the new clients and the firsts raised; every later
    // transaction of the rogue's pairs deviates too, and is held back as a
    // repeat.
    let last = eve.last().expect("EVE lines");
    assert_eq!(last["event_type"], "stats", "the final stats line is last");
    let b = &last["stats"]["baseline"];
    let (found, held) = (
        b["deviations"].as_u64().unwrap_or(0),
        b["held"].as_u64().unwrap_or(0),
    );
    let raised = 3 + firsts.values().sum::<usize>() as u64;
    assert_eq!(found - held, raised, "deviations raised: {b}");
    assert_eq!(last["stats"]["live_capture"]["kernel_drops"], 0, "{last}");
}

#[test]
fn sensor_learns_the_plant_live_then_flags_new_clients() {
    if !live_tests_enabled("sensor_learns_the_plant_live_then_flags_new_clients") {
        return;
    }
    learns_the_plant_live_then_flags_new_clients(6);
}

/// `otwatch run --iface --learn`: the process learns the master's polling
/// into its own DATA/baseline.yaml, says so through its API (learning, then
/// enforcing), and its Baseline review works live: a new host's deviation
/// is listed, Accept adds the host to the file and the capture reloads it,
/// after which the same host's reads raise nothing more.
#[test]
fn run_iface_learns_its_baseline_and_accept_reloads_it() {
    if !live_tests_enabled("run_iface_learns_its_baseline_and_accept_reloads_it") {
        return;
    }
    let net = Net::create(7);
    let dir = tempfile::tempdir().expect("tempdir");
    let plc = net.plc_ip();
    let rogue = net.rogue_ip();
    let _servers = [
        net.server("modbus_server.py", 502, &["--identity", "normal"]),
        net.server("s7_server.py", 102, &[]),
        net.server("dnp3_outstation.py", 20000, &[]),
    ];
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
    let learn = format!("{LEARN_SECS}s");
    let mut run = RunAll::start_with(&net, dir.path(), "afpacket", &bundled, &["--learn", &learn]);
    let state = run.get("/api/v1/baseline");
    assert_eq!(state["state"], "learning", "{state}");
    let own = dir.path().join("data").join("baseline.yaml");
    assert_eq!(state["path"], own.to_string_lossy().as_ref(), "{state}");

    let started = Instant::now();
    master_polls(&net);
    let polled = started.elapsed();
    assert!(
        polled + Duration::from_secs(2) < Duration::from_secs(LEARN_SECS),
        "the master's polling took {polled:?}, too close to the {LEARN_SECS} s learning period"
    );
    run.wait_for_stderr(
        "enforcing the learned baseline",
        Duration::from_secs(LEARN_SECS + 20),
    );
    let state = run.get_until("/api/v1/baseline", Duration::from_secs(5), |v| {
        v["state"] == "enforcing"
    });
    assert_eq!(state["summary"]["servers"], 3, "{state}");
    assert_eq!(state["summary"]["pairs"], 3, "{state}");
    assert_eq!(state["can_accept"], true, "{state}");

    // A new host reads the PLC's holding registers: a new client.
    net.client("rog", "modbus_client.py", &["rogue-master", &plc, "502"]);
    let deviations = run.get_until(
        "/api/v1/baseline/deviations",
        Duration::from_secs(20),
        |v| v["groups"].as_array().is_some_and(|g| !g.is_empty()),
    );
    let groups = deviations["groups"].as_array().cloned().unwrap_or_default();
    let group = groups
        .iter()
        .find(|g| g["deviation"] == "new_client")
        .unwrap_or_else(|| panic!("no new-client group: {deviations}"));
    assert_eq!(group["client"], rogue.as_str(), "{group}");
    assert_eq!(group["server"], plc.as_str(), "{group}");
    assert_eq!(group["port"], 502, "{group}");

    // Accept: the file gains the host, and the capture reloads it.
    let (status, accepted) = run.post(
        "/api/v1/baseline/accept",
        &serde_json::json!({"id": group["example_id"], "by": "test"}),
    );
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["reload"]["ok"], true, "{accepted}");
    let file = otwatch_rules::baseline::file::load(&own).expect("the saved baseline parses");
    let rogue_ip: std::net::IpAddr = rogue.parse().expect("address");
    assert!(
        file.servers()
            .any(|(k, s)| k.port == 502 && s.clients.contains_key(&rogue_ip)),
        "the rogue is in the file: {}",
        otwatch_rules::baseline::file::render(&file)
    );
    run.wait_for_stderr("rules reloaded", Duration::from_secs(10));

    // The same host again, now a known client: no second new-client
    // alert (its other reads, never accepted, are new operations).
    net.client("rog", "modbus_client.py", &["rogue-master", &plc, "502"]);
    let after = run.get_until("/api/v1/alerts?rule=150005", Duration::from_secs(20), |v| {
        v["alerts"].as_array().is_some_and(|a| !a.is_empty())
    });
    let new_client = run.get("/api/v1/alerts?rule=150002");
    let count = new_client["alerts"].as_array().map_or(0, Vec::len);
    assert_eq!(
        count, 1,
        "one new-client alert, the accepted one: {new_client}\n{after}"
    );
    let reviewed = &new_client["alerts"][0];
    assert_eq!(reviewed["state"], "closed", "{reviewed}");
    run.process.signal("TERM");
    let _ = run.process.0.wait();
}

/// `otwatch run --iface` and an override added through its API (as the
/// alert page's "Do not alert on this rule for this pair" does): the file is
/// `DATA/overrides.yaml`, the running capture reloads its rules, and the
/// rogue writer's next writes to the PLC no longer alert, counted as
/// suppressed.
#[test]
fn run_iface_reloads_an_override_added_through_the_api() {
    if !live_tests_enabled("run_iface_reloads_an_override_added_through_the_api") {
        return;
    }
    let net = Net::create(8);
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = rules_for(&net, dir.path());
    let (plc, rogue) = (net.plc_ip(), net.rogue_ip());
    let _server = net.server("modbus_server.py", 502, &["--identity", "normal"]);
    let mut run = RunAll::start(&net, dir.path(), "afpacket", &rules);
    let own = dir.path().join("data").join("overrides.yaml");
    let listed = run.get("/api/v1/overrides");
    assert_eq!(listed["path"], own.to_string_lossy().as_ref(), "{listed}");
    assert_eq!(listed["writable"], true, "{listed}");

    // Five writes per rogue-writer run (6, 16, 5, 15, 6): five alerts of
    // 110010, the rogue is not among the writers.
    net.client("rog", "modbus_client.py", &["rogue-writer", &plc, "502"]);
    let writes = |v: &Value| v["alerts"].as_array().map_or(0, Vec::len);
    run.get_until("/api/v1/alerts?rule=110010", Duration::from_secs(30), |v| {
        writes(v) >= 5
    });

    let (status, added) = run.post(
        "/api/v1/overrides",
        &serde_json::json!({"rule": 110010, "src_ip": rogue, "dest_ip": plc, "note": "live test", "by": "tester"}),
    );
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["reload"]["ok"], true, "{added}");
    let file = otwatch_rules::overrides::load(&own).expect("the saved overrides parse");
    assert_eq!(file.suppress.len(), 1);
    assert_eq!(file.suppress[0].dest.as_deref(), Some(plc.as_str()));
    run.wait_for_stderr("rules reloaded", Duration::from_secs(10));

    // The same writes again: seen (a new connection in the stats), not
    // alerted.
    net.client("rog", "modbus_client.py", &["rogue-writer", &plc, "502"]);
    run.get_until("/api/v1/sensors", Duration::from_secs(20), |v| {
        v["sensors"].as_array().is_some_and(|s| {
            s.iter().any(|x| {
                x["name"] == "otwatch-run"
                    && x["stats"]["flow"]["created"].as_u64().unwrap_or(0) >= 2
            })
        })
    });
    std::thread::sleep(Duration::from_secs(3));
    let after = run.get("/api/v1/alerts?rule=110010");
    assert_eq!(writes(&after), 5, "no new write alert of the pair: {after}");
    // The periodic stats count them.
    run.get_until("/api/v1/sensors", Duration::from_secs(20), |v| {
        v["sensors"].as_array().is_some_and(|s| {
            s.iter().any(|x| {
                x["name"] == "otwatch-run"
                    && x["stats"]["overrides"]["suppressed"].as_u64() == Some(5)
            })
        })
    });

    run.process.signal("TERM");
    let status = run.process.wait(Duration::from_secs(30));
    let stderr = run.stderr_text();
    assert!(
        status.success(),
        "otwatch run exited with {status}; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("suppressed   5 matches kept from alerting by the overrides"),
        "{stderr}"
    );
}
