//! Injected attacks and their ground truth. Each attack is a source started
//! when the capture has reached a given number of frames (so that attacks
//! spread through the capture whatever its length); its first frame carries
//! a [`Truth`] record, reported when that frame is written.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::net::{self, HostAddr};
use super::tcp::{Dir, Pdu, Segmenting, TcpConn};
use super::{dnp3, enip, iec104, modbus, rfc3339, s7comm, Class, Cx, Rng, Source};

/// One injected attack, as written to the ground-truth file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truth {
    /// Time of the attack's first frame (RFC 3339, UTC).
    pub time: String,
    /// The same, in microseconds since the epoch.
    pub ts_us: u64,
    /// The attacker, `ip:port`.
    pub src: String,
    /// The (first) target, `ip:port`.
    pub dst: String,
    /// Number of targets (more than one for scans).
    pub targets: u32,
    /// `modbus`, `s7comm`, `dnp3`, `enip` or `iec104`.
    pub protocol: &'static str,
    /// What the attack is.
    pub kind: &'static str,
    /// Bundled rule ids expected to fire (empty: only a baseline sees it).
    pub rule_ids: Vec<u32>,
    /// `rule` when a bundled rule fires, `baseline` otherwise.
    pub detection: &'static str,
    /// One sentence on the attack.
    pub description: &'static str,
}

/// The attack kinds, in the order they are injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ModbusForceListenOnly,
    ModbusDeviceIdScan,
    S7PlcStop,
    ModbusRestartCommunications,
    S7SzlScan,
    Dnp3ColdRestart,
    ModbusWriteFromNewWriter,
    Dnp3BadCrc,
    ModbusDeviceIdExtended,
    EnipControllerStop,
    EnipTagWriteFromNewWriter,
    Iec104BreakerOpenFromNewHost,
}

impl Kind {
    const ALL: [Kind; 12] = [
        Kind::ModbusForceListenOnly,
        Kind::ModbusDeviceIdScan,
        Kind::S7PlcStop,
        Kind::ModbusRestartCommunications,
        Kind::S7SzlScan,
        Kind::Dnp3ColdRestart,
        Kind::ModbusWriteFromNewWriter,
        Kind::Dnp3BadCrc,
        Kind::ModbusDeviceIdExtended,
        Kind::EnipControllerStop,
        Kind::EnipTagWriteFromNewWriter,
        Kind::Iec104BreakerOpenFromNewHost,
    ];

    /// Name, protocol, expected rule ids, description.
    fn describe(self) -> (&'static str, &'static str, &'static [u32], &'static str) {
        match self {
            Kind::ModbusForceListenOnly => (
                "modbus_force_listen_only",
                "modbus",
                &[110_001],
                "diagnostics (function 8) sub-function 4 puts the device in listen-only mode",
            ),
            Kind::ModbusDeviceIdScan => (
                "modbus_device_id_scan",
                "modbus",
                &[110_018],
                "read device identification (43/14, basic) of 14 devices from a new host, one connection each",
            ),
            Kind::S7PlcStop => (
                "s7_plc_stop",
                "s7comm",
                &[120_001],
                "a new host connects to a PLC and sends PLC STOP (function 0x29)",
            ),
            Kind::ModbusRestartCommunications => (
                "modbus_restart_communications",
                "modbus",
                &[110_002],
                "diagnostics (function 8) sub-function 1 restarts the device's communications",
            ),
            Kind::S7SzlScan => (
                "s7_szl_scan",
                "s7comm",
                &[120_016],
                "an s7-info-like scan from a new host: COTP, setup, SZL 0x0011 and 0x001C reads",
            ),
            Kind::Dnp3ColdRestart => (
                "dnp3_cold_restart",
                "dnp3",
                &[130_001],
                "a new host sends COLD_RESTART (function 13) to an outstation",
            ),
            Kind::ModbusWriteFromNewWriter => (
                "modbus_write_from_new_writer",
                "modbus",
                &[],
                "the historian, which only ever read, writes a holding register",
            ),
            Kind::Dnp3BadCrc => (
                "dnp3_bad_crc",
                "dnp3",
                &[130_014],
                "one DNP3 request with a corrupted data-block CRC",
            ),
            Kind::ModbusDeviceIdExtended => (
                "modbus_device_id_extended",
                "modbus",
                &[110_004],
                "read device identification with the extended access code (43/14 code 3)",
            ),
            Kind::EnipControllerStop => (
                "enip_controller_stop",
                "enip",
                &[160_001],
                "a new host registers a session on a Logix controller and sends CIP Stop to its controller object (class 0x8E)",
            ),
            Kind::EnipTagWriteFromNewWriter => (
                "enip_tag_write_from_new_writer",
                "enip",
                &[],
                "the historian, which only ever read tags, writes a set point (Write_Tag of a REAL)",
            ),
            Kind::Iec104BreakerOpenFromNewHost => (
                "iec104_breaker_open_from_new_host",
                "iec104",
                &[170_011, 170_004, 170_001],
                "a host that is no control centre starts data transfer with a substation, interrogates it and opens a breaker by a direct double command, as Industroyer did",
            ),
        }
    }
}

/// The attacker's workstation.
fn attacker() -> HostAddr {
    net::host(Ipv4Addr::new(10, 10, 9, 66), net::OUI_DELL, 128)
}

/// The attacks of a run of `packets` frames: the frame count at which each
/// starts, and its source, in increasing order.
pub(crate) fn plan(rng: &mut Rng, packets: u64) -> Vec<(u64, Box<dyn Source>)> {
    let n = Kind::ALL.len() as u64;
    Kind::ALL
        .iter()
        .enumerate()
        .map(|(i, &kind)| {
            let at = packets * (i as u64 + 1) / (n + 1);
            let source: Box<dyn Source> = Box::new(Attack {
                kind,
                rng: rng.fork(),
            });
            (at, source)
        })
        .collect()
}

struct Attack {
    kind: Kind,
    rng: Rng,
}

impl Attack {
    fn truth(&self, ts: u64, src: (HostAddr, u16), dst: (HostAddr, u16), targets: u32) -> Truth {
        let (kind, protocol, ids, description) = self.kind.describe();
        Truth {
            time: rfc3339(ts),
            ts_us: ts,
            src: format!("{}:{}", src.0.ip, src.1),
            dst: format!("{}:{}", dst.0.ip, dst.1),
            targets,
            protocol,
            kind,
            rule_ids: ids.to_vec(),
            detection: if ids.is_empty() { "baseline" } else { "rule" },
            description,
        }
    }

    fn connect(
        &mut self,
        cx: &mut Cx,
        from: HostAddr,
        to: HostAddr,
        port: u16,
        class: Class,
        vlan: Option<u16>,
    ) -> TcpConn {
        let sport = cx.ephemeral_port(from.ip, &mut self.rng);
        TcpConn::new(&mut self.rng, from, sport, to, port, vlan, class)
    }

    /// A Modbus exchange on `conn` with `pdu` (and `reply`, if the device
    /// answers); the first marks the attack.
    fn modbus_exchange(
        &mut self,
        cx: &mut Cx,
        conn: &mut TcpConn,
        t: u64,
        pdu: &[u8],
        reply: Option<&[u8]>,
        truth: Option<Truth>,
    ) -> u64 {
        let tid = self.rng.range(1, 60_000) as u16;
        let mut req = Vec::new();
        modbus::adu(&mut req, tid, 1, pdu);
        if let Some(truth) = truth {
            cx.mark_attack(truth);
        }
        let n = req.len();
        let mut te = conn.send(
            cx,
            &mut self.rng,
            Dir::ToServer,
            t,
            &req,
            &[Pdu::Request(n)],
            Segmenting::OT,
        );
        te += self.rng.range(1_000, 5_000);
        match reply {
            Some(reply) => {
                let mut resp = Vec::new();
                modbus::adu(&mut resp, tid, 1, reply);
                let n = resp.len();
                te = conn.send(
                    cx,
                    &mut self.rng,
                    Dir::ToClient,
                    te,
                    &resp,
                    &[Pdu::Response(n)],
                    Segmenting::OT,
                );
            }
            None => conn.ack(cx, Dir::ToClient, te),
        }
        te
    }

    fn modbus_once(
        &mut self,
        cx: &mut Cx,
        now: u64,
        from: HostAddr,
        device: HostAddr,
        pdu: &[u8],
        reply: Option<&[u8]>,
    ) {
        let mut conn = self.connect(cx, from, device, modbus::PORT, Class::Modbus, None);
        let t = conn.handshake(cx, now, 400);
        let truth = self.truth(t + 500, conn.client(), conn.server(), 1);
        let te = self.modbus_exchange(cx, &mut conn, t + 500, pdu, reply, Some(truth));
        conn.close(cx, Dir::ToServer, te + 2_000, 400);
    }

    fn device_id_reply(code: u8) -> Vec<u8> {
        let mut r = vec![
            0x2b,
            0x0e,
            code,
            if code == 1 { 0x01 } else { 0x83 },
            0x00,
            0x00,
            0x03,
        ];
        for (id, text) in [
            (0u8, "Schneider Electric"),
            (1, "BMX P34 2020"),
            (2, "V3.10"),
        ] {
            r.push(id);
            r.push(text.len() as u8);
            r.extend_from_slice(text.as_bytes());
        }
        r
    }

    fn s7_attack(&mut self, cx: &mut Cx, now: u64, from: HostAddr, plc: HostAddr, stop: bool) {
        let mut conn = self.connect(cx, from, plc, s7comm::PORT, Class::S7comm, Some(20));
        let t = conn.handshake(cx, now, 400);
        let cr = s7comm::cotp_connect(false, 0, 0x0001, 2);
        let cc = s7comm::cotp_connect(true, 0x0001, 0x4431, 2);
        let truth = self.truth(t + 200, conn.client(), conn.server(), 1);
        if !stop {
            cx.mark_attack(truth.clone());
        }
        let t = conn.send(
            cx,
            &mut self.rng,
            Dir::ToServer,
            t + 200,
            &cr,
            &[],
            Segmenting::OT,
        );
        let t = conn.send(
            cx,
            &mut self.rng,
            Dir::ToClient,
            t + 900,
            &cc,
            &[],
            Segmenting::OT,
        );
        let exchange =
            |cx: &mut Cx, conn: &mut TcpConn, rng: &mut Rng, t: u64, a: Vec<u8>, b: Vec<u8>| {
                let a = s7comm::tpkt_dt(&a);
                let b = s7comm::tpkt_dt(&b);
                let t = conn.send(
                    cx,
                    rng,
                    Dir::ToServer,
                    t,
                    &a,
                    &[Pdu::Request(a.len())],
                    Segmenting::OT,
                );
                conn.send(
                    cx,
                    rng,
                    Dir::ToClient,
                    t + 3_000,
                    &b,
                    &[Pdu::Response(b.len())],
                    Segmenting::OT,
                )
            };
        let setup = s7comm::setup_param();
        let mut t = exchange(
            cx,
            &mut conn,
            &mut self.rng,
            t + 300,
            s7comm::s7_pdu(1, 1, &setup, &[]),
            s7comm::s7_pdu(3, 1, &setup, &[]),
        );
        if stop {
            let mut p = vec![0x29, 0, 0, 0, 0, 0, 9];
            p.extend_from_slice(b"P_PROGRAM");
            cx.mark_attack(Truth {
                ts_us: t + 20_000,
                time: rfc3339(t + 20_000),
                ..truth
            });
            t = exchange(
                cx,
                &mut conn,
                &mut self.rng,
                t + 20_000,
                s7comm::s7_pdu(1, 2, &p, &[]),
                s7comm::s7_pdu(3, 2, &[0x29], &[]),
            );
        } else {
            for (seq, id) in [(1u8, 0x0011u16), (2, 0x001c)] {
                let (p, d) = s7comm::szl_request(seq, id, 0);
                let (rp, rd) = s7comm::szl_response(seq, id, 2);
                let r = u16::from(seq) + 1;
                t = exchange(
                    cx,
                    &mut conn,
                    &mut self.rng,
                    t + 5_000,
                    s7comm::s7_pdu(7, r, &p, &d),
                    s7comm::s7_pdu(7, r, &rp, &rd),
                );
            }
        }
        conn.close(cx, Dir::ToServer, t + 10_000, 400);
    }

    /// A session on controller `plc` from `from`: RegisterSession, one
    /// unconnected request `cip` (marked as the attack) and its `reply`,
    /// UnRegisterSession.
    fn enip_attack(
        &mut self,
        cx: &mut Cx,
        now: u64,
        from: HostAddr,
        plc: HostAddr,
        cip: &[u8],
        reply: &[u8],
    ) {
        let mut conn = self.connect(cx, from, plc, enip::PORT, Class::Enip, None);
        let mut t = conn.handshake(cx, now, 400) + 500;
        let session = self.rng.next_u64() as u32 | 1;
        let (client, server) = (conn.client(), conn.server());
        let mut exchange = |cx: &mut Cx, rng: &mut Rng, t: u64, a: &[u8], b: Option<&[u8]>| {
            let t = conn.send(
                cx,
                rng,
                Dir::ToServer,
                t,
                a,
                &[Pdu::Request(a.len())],
                Segmenting::OT,
            );
            match b {
                Some(b) => conn.send(
                    cx,
                    rng,
                    Dir::ToClient,
                    t + 2_000,
                    b,
                    &[Pdu::Response(b.len())],
                    Segmenting::OT,
                ),
                None => t,
            }
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        enip::encap(&mut a, 0x65, 0, 1, &[1, 0, 0, 0]);
        enip::encap(&mut b, 0x65, session, 1, &[1, 0, 0, 0]);
        t = exchange(cx, &mut self.rng, t, &a, Some(&b)) + 3_000;
        cx.mark_attack(self.truth(t, client, server, 1));
        a.clear();
        b.clear();
        enip::encap(&mut a, 0x6f, session, 2, &enip::unconnected(cip));
        enip::encap(&mut b, 0x6f, session, 2, &enip::unconnected(reply));
        t = exchange(cx, &mut self.rng, t, &a, Some(&b)) + 5_000;
        a.clear();
        enip::encap(&mut a, 0x66, session, 3, &[]);
        t = exchange(cx, &mut self.rng, t, &a, None);
        conn.close(cx, Dir::ToServer, t + 2_000, 400);
    }

    /// STARTDT, a general interrogation and a direct double command
    /// opening breaker 2 of substation `i`, each confirmed (and
    /// terminated) by the RTU; then the connection is dropped.
    fn iec104_attack(&mut self, cx: &mut Cx, now: u64, from: HostAddr, i: usize) {
        let rtu = iec104::rtu(i);
        let ca = iec104::common_address(i);
        let mut conn = self.connect(cx, from, rtu, iec104::PORT, Class::Iec104, None);
        let mut t = conn.handshake(cx, now, 6_000) + 1_000;
        cx.mark_attack(self.truth(t, conn.client(), conn.server(), 1));
        let mut numbers = iec104::Numbers::default();
        // Each step: what the attacker sends, then the RTU's APDUs.
        let mut step =
            |cx: &mut Cx, rng: &mut Rng, t: u64, ours: Vec<u8>, theirs: Vec<u8>, n: usize| {
                let t = conn.send(
                    cx,
                    rng,
                    Dir::ToServer,
                    t,
                    &ours,
                    &[Pdu::Request(ours.len())],
                    Segmenting::OT,
                );
                // The RTU's APDUs in one send: the end of each.
                let mut ends = Vec::with_capacity(n);
                let mut at = 0;
                while at < theirs.len() {
                    at += 2 + usize::from(theirs[at + 1]);
                    ends.push(Pdu::Response(at));
                }
                conn.send(
                    cx,
                    rng,
                    Dir::ToClient,
                    t + 8_000,
                    &theirs,
                    &ends,
                    Segmenting::OT,
                )
            };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        iec104::u_frame(&mut ours, iec104::STARTDT_ACT);
        iec104::u_frame(&mut theirs, iec104::STARTDT_CON);
        t = step(cx, &mut self.rng, t, ours, theirs, 1) + 40_000;
        // General interrogation: confirmed, the breakers, terminated.
        let mut gi = iec104::asdu(iec104::C_IC_NA_1, false, 1, iec104::ACTIVATION, ca);
        iec104::ioa(&mut gi, 0);
        gi.push(20);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        numbers.i_frame(&mut ours, true, &gi);
        gi[2] = iec104::ACTIVATION_CON;
        numbers.i_frame(&mut theirs, false, &gi);
        let mut breakers = iec104::asdu(3, false, 4, iec104::INTERROGATED, ca);
        for k in 0..4 {
            iec104::ioa(&mut breakers, iec104::BREAKERS + k);
            breakers.push(iec104::ON);
        }
        numbers.i_frame(&mut theirs, false, &breakers);
        gi[2] = iec104::ACTIVATION_TERM;
        numbers.i_frame(&mut theirs, false, &gi);
        t = step(cx, &mut self.rng, t, ours, theirs, 3) + 300_000;
        // Breaker 2 opened, directly (S/E 0, DCS off).
        let mut open = iec104::asdu(iec104::C_DC_NA_1, false, 1, iec104::ACTIVATION, ca);
        iec104::ioa(&mut open, iec104::BREAKERS + 1);
        open.push(iec104::OFF);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        numbers.i_frame(&mut ours, true, &open);
        open[2] = iec104::ACTIVATION_CON;
        numbers.i_frame(&mut theirs, false, &open);
        let mut state = iec104::asdu(iec104::M_DP_TB_1, false, 1, iec104::SPONTANEOUS, ca);
        iec104::ioa(&mut state, iec104::BREAKERS + 1);
        state.push(iec104::OFF);
        iec104::cp56(&mut state, t + 80_000);
        numbers.i_frame(&mut theirs, false, &state);
        open[2] = iec104::ACTIVATION_TERM;
        numbers.i_frame(&mut theirs, false, &open);
        t = step(cx, &mut self.rng, t, ours, theirs, 3);
        conn.close(cx, Dir::ToServer, t + 500_000, 6_000);
    }

    fn dnp3_attack(&mut self, cx: &mut Cx, now: u64, from: HostAddr, bad_crc: bool) {
        let outstations = dnp3::outstations();
        let i = if bad_crc { 4 } else { 7 };
        let Some(&o) = outstations.get(i) else { return };
        let vlan = if i % 4 == 0 { Some(30) } else { None };
        let mut conn = self.connect(cx, from, o, dnp3::PORT, Class::Dnp3, vlan);
        let addr = dnp3::outstation_address(i);
        let mut t = conn.handshake(cx, now, 400) + 1_000;
        let mut tm = 32u8;
        let mut to = 0u8;
        if bad_crc {
            cx.mark_attack(self.truth(t, conn.client(), conn.server(), 1));
            // One class 1 read (FIR FIN, sequence 0) with the CRC of its
            // first data block corrupted: over TCP no line noise does that.
            let mut req = vec![0xc0, 0x01];
            req.extend_from_slice(&dnp3::class_read(&[1]));
            let mut bytes = dnp3::frames(
                dnp3::LINK_FROM_MASTER,
                addr,
                dnp3::MASTER_ADDRESS,
                &req,
                &mut tm,
            );
            // The first data block's CRC follows the 10-byte header and the
            // 6 bytes of user data.
            if let Some(b) = bytes.get_mut(16) {
                *b ^= 0x5a;
            }
            t = conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                t,
                &bytes,
                &[],
                Segmenting::OT,
            );
            conn.ack(cx, Dir::ToClient, t + 300);
            t += 1_000_000;
        } else {
            let req = [0xc3, 0x0d]; // FIR FIN seq 3, COLD_RESTART
            let bytes = dnp3::frames(
                dnp3::LINK_FROM_MASTER,
                addr,
                dnp3::MASTER_ADDRESS,
                &req,
                &mut tm,
            );
            cx.mark_attack(self.truth(t, conn.client(), conn.server(), 1));
            t = conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                t,
                &bytes,
                &[Pdu::Request(bytes.len())],
                Segmenting::OT,
            );
            // Response: time delay fine (g52v2, count 1) of 5000 ms.
            let resp = [0xc3, 0x81, 0x00, 0x00, 52, 2, 0x07, 0x01, 0x88, 0x13];
            let bytes = dnp3::frames(
                dnp3::LINK_FROM_OUTSTATION,
                dnp3::MASTER_ADDRESS,
                addr,
                &resp,
                &mut to,
            );
            t = conn.send(
                cx,
                &mut self.rng,
                Dir::ToClient,
                t + 8_000,
                &bytes,
                &[Pdu::Response(bytes.len())],
                Segmenting::OT,
            );
        }
        conn.close(cx, Dir::ToServer, t + 20_000, 400);
    }
}

impl Source for Attack {
    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        let devices = modbus::devices();
        let device = |i: usize| {
            devices
                .get(i)
                .copied()
                .unwrap_or_else(|| net::host(Ipv4Addr::new(10, 10, 2, 1), net::OUI_SCHNEIDER, 64))
        };
        match self.kind {
            Kind::ModbusForceListenOnly => {
                self.modbus_once(
                    cx,
                    now,
                    attacker(),
                    device(4),
                    &[0x08, 0x00, 0x04, 0x00, 0x00],
                    None,
                );
            }
            Kind::ModbusRestartCommunications => {
                let pdu = [0x08, 0x00, 0x01, 0x00, 0x00];
                self.modbus_once(cx, now, attacker(), device(6), &pdu, Some(&pdu));
            }
            Kind::ModbusWriteFromNewWriter => {
                let pdu = [0x06, 0x00, 0x64, 0x01, 0xf4]; // register 100 := 500
                self.modbus_once(cx, now, modbus::historian(), device(2), &pdu, Some(&pdu));
            }
            Kind::ModbusDeviceIdExtended => {
                let reply = Attack::device_id_reply(3);
                self.modbus_once(
                    cx,
                    now,
                    attacker(),
                    device(9),
                    &[0x2b, 0x0e, 0x03, 0x00],
                    Some(&reply),
                );
            }
            Kind::ModbusDeviceIdScan => {
                let reply = Attack::device_id_reply(1);
                let mut t = now;
                for i in 0..14 {
                    let mut conn =
                        self.connect(cx, attacker(), device(i), modbus::PORT, Class::Modbus, None);
                    let th = conn.handshake(cx, t, 400);
                    let truth = (i == 0).then(|| {
                        let mut tr = self.truth(th + 300, conn.client(), conn.server(), 14);
                        tr.dst = format!("{}:{}", device(0).ip, modbus::PORT);
                        tr
                    });
                    let te = self.modbus_exchange(
                        cx,
                        &mut conn,
                        th + 300,
                        &[0x2b, 0x0e, 0x01, 0x00],
                        Some(&reply),
                        truth,
                    );
                    conn.close(cx, Dir::ToServer, te + 1_000, 400);
                    t = te + 30_000;
                }
            }
            Kind::S7PlcStop => {
                let plc = s7comm::plcs().get(1).copied()?;
                self.s7_attack(cx, now, attacker(), plc, true);
            }
            Kind::S7SzlScan => {
                let scanner = net::host(Ipv4Addr::new(10, 10, 9, 70), net::OUI_DELL, 64);
                let plc = s7comm::plcs().get(3).copied()?;
                self.s7_attack(cx, now, scanner, plc, false);
            }
            Kind::Dnp3ColdRestart => self.dnp3_attack(cx, now, attacker(), false),
            Kind::Dnp3BadCrc => self.dnp3_attack(cx, now, attacker(), true),
            Kind::EnipControllerStop => {
                let plc = enip::controllers().get(2).copied()?;
                // Stop (0x07) to class 0x8E instance 1, and its reply.
                let stop = [0x07, 0x02, 0x20, 0x8e, 0x24, 0x01];
                self.enip_attack(cx, now, attacker(), plc, &stop, &[0x87, 0, 0, 0]);
            }
            Kind::EnipTagWriteFromNewWriter => {
                let plc = enip::controllers().first().copied()?;
                let historian = enip::hmis()[1];
                // Write_Tag (0x4D) "Mixer1_Setpoint1": REAL, one element, 85.0.
                let name = b"Mixer1_Setpoint1";
                let mut w = vec![0x4d, 0x09, 0x91, name.len() as u8];
                w.extend_from_slice(name);
                w.extend_from_slice(&[0xca, 0, 1, 0]);
                w.extend_from_slice(&85.0f32.to_le_bytes());
                self.enip_attack(cx, now, historian, plc, &w, &[0xcd, 0, 0, 0]);
            }
            Kind::Iec104BreakerOpenFromNewHost => self.iec104_attack(cx, now, attacker(), 2),
        }
        None
    }
}
