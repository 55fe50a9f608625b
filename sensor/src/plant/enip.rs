//! EtherNet/IP on TCP port 44818 and UDP port 2222, as a Logix cell runs
//! it: HMIs open a session on each controller (RegisterSession, a class 3
//! Forward_Open through the Connection Manager) and poll their tags with
//! Multiple_Service_Packets of Read_Tag in connected SendUnitData messages,
//! the operator station now and then writes a set point (Write_Tag of a
//! REAL); each controller exchanges class 1 implicit I/O with its remote
//! I/O adapter over UDP 2222 (sequenced address and connected data items,
//! run/idle header) at its requested packet interval.

use std::net::Ipv4Addr;

use super::net::{self, HostAddr};
use super::tcp::{Dir, Pdu, Segmenting, TcpConn};
use super::{Class, Cx, Pdus, Rng, Source};
use crate::synth::{build_udp, FrameSpec};

/// The encapsulation port.
pub const PORT: u16 = 44_818;
/// The implicit I/O port.
pub const IO_PORT: u16 = 2_222;

/// Rockwell Automation (controllers and adapters).
const OUI_ROCKWELL: [u8; 3] = [0x00, 0x00, 0xbc];

/// The Logix controllers.
pub(crate) fn controllers() -> Vec<HostAddr> {
    (1..=6u8)
        .map(|i| net::host(Ipv4Addr::new(10, 10, 6, i), OUI_ROCKWELL, 64))
        .collect()
}

/// The remote I/O adapter of controller `i`.
fn adapter(i: usize) -> HostAddr {
    net::host(Ipv4Addr::new(10, 10, 6, 101 + i as u8), OUI_ROCKWELL, 64)
}

/// The HMIs: the operator station (which also writes) and the historian.
pub(crate) fn hmis() -> [HostAddr; 2] {
    [
        net::host(Ipv4Addr::new(10, 10, 1, 30), net::OUI_DELL, 128),
        net::host(Ipv4Addr::new(10, 10, 1, 31), net::OUI_DELL, 128),
    ]
}

/// An encapsulation message.
pub(crate) fn encap(out: &mut Vec<u8>, command: u16, session: u32, context: u64, data: &[u8]) {
    out.extend_from_slice(&command.to_le_bytes());
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(&session.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // status
    out.extend_from_slice(&context.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // options
    out.extend_from_slice(data);
}

/// SendRRData data: interface 0, timeout, the null address item and the
/// unconnected data item holding `cip`.
pub(crate) fn unconnected(cip: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 0, 0, 0, 5, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0];
    d.extend_from_slice(&(cip.len() as u16).to_le_bytes());
    d.extend_from_slice(cip);
    d
}

/// SendUnitData data: the connected address item and the connected data
/// item (sequence count, then `cip`).
fn connected(connection: u32, sequence: u16, cip: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 0, 0, 0, 0, 0, 2, 0, 0xa1, 0, 4, 0];
    d.extend_from_slice(&connection.to_le_bytes());
    d.extend_from_slice(&[0xb1, 0]);
    d.extend_from_slice(&(cip.len() as u16 + 2).to_le_bytes());
    d.extend_from_slice(&sequence.to_le_bytes());
    d.extend_from_slice(cip);
    d
}

/// A symbolic request path: an ANSI extended symbol segment, padded.
fn symbol_path(out: &mut Vec<u8>, name: &str) {
    let start = out.len();
    out.push(0); // path size, set below
    out.push(0x91);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    if name.len() % 2 == 1 {
        out.push(0);
    }
    out[start] = ((out.len() - start - 1) / 2) as u8;
}

/// A tag's data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Real,
    Dint,
    Bool,
}

/// One tag an HMI reads.
#[derive(Debug, Clone)]
struct Tag {
    name: String,
    kind: Kind,
    value: f64,
}

impl Tag {
    /// The type code and value bytes of a read reply.
    fn reply_data(&self, out: &mut Vec<u8>) {
        match self.kind {
            Kind::Real => {
                out.extend_from_slice(&[0xca, 0]);
                out.extend_from_slice(&(self.value as f32).to_le_bytes());
            }
            Kind::Dint => {
                out.extend_from_slice(&[0xc4, 0]);
                out.extend_from_slice(&(self.value as i32).to_le_bytes());
            }
            Kind::Bool => {
                out.extend_from_slice(&[0xc1, 0]);
                out.push(if self.value > 0.5 { 0xff } else { 0 });
            }
        }
    }
}

const AREAS: [&str; 6] = ["Mixer", "Kiln", "Press", "Dryer", "Pump", "Line"];
const POINTS: [(&str, Kind); 8] = [
    ("Speed", Kind::Real),
    ("Temp", Kind::Real),
    ("Level", Kind::Real),
    ("Count", Kind::Dint),
    ("State", Kind::Dint),
    ("Running", Kind::Bool),
    ("Fault", Kind::Bool),
    ("Setpoint", Kind::Real),
];

/// The tags of controller `i` one HMI polls.
fn tags(rng: &mut Rng, i: usize) -> Vec<Tag> {
    let n = rng.range(6, 16) as usize;
    (0..n)
        .map(|k| {
            let (point, kind) = POINTS[k % POINTS.len()];
            Tag {
                name: format!(
                    "{}{}_{}{}",
                    AREAS[i % AREAS.len()],
                    i / AREAS.len() + 1,
                    point,
                    k / POINTS.len() + 1
                ),
                kind,
                value: rng.range(0, 5_000) as f64 / 10.0,
            }
        })
        .collect()
}

/// An HMI's session with one controller.
struct Session {
    conn: TcpConn,
    rng: Rng,
    started: bool,
    session: u32,
    context: u64,
    /// The connection ids: the controller's (O→T) and the HMI's (T→O).
    o_t: u32,
    t_o: u32,
    sequence: u16,
    tags: Vec<Tag>,
    period: u64,
    /// Whether this HMI writes set points now and then.
    writes: bool,
    next_write: u64,
}

impl Session {
    fn hmi_sends(&mut self, cx: &mut Cx, t: u64, msg: &[u8]) -> u64 {
        self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToServer,
            t,
            msg,
            &[Pdu::Request(msg.len())],
            Segmenting::OT,
        )
    }

    fn plc_sends(&mut self, cx: &mut Cx, t: u64, msg: &[u8]) -> u64 {
        self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToClient,
            t,
            msg,
            &[Pdu::Response(msg.len())],
            Segmenting::OT,
        )
    }

    /// RegisterSession, then a class 3 Forward_Open.
    fn open(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let mut m = Vec::new();
        encap(&mut m, 0x65, 0, self.context, &[1, 0, 0, 0]);
        let t = self.hmi_sends(cx, t, &m);
        m.clear();
        encap(&mut m, 0x65, self.session, self.context, &[1, 0, 0, 0]);
        let delay = self.rng.range(300, 900);
        let t = self.plc_sends(cx, t + delay, &m);
        // Forward_Open to the Connection Manager: priority/tick, timeout,
        // O→T id 0 (the target picks it), T→O id, serial, vendor 1,
        // originator serial, multiplier, reserved, RPIs 2 s with
        // point-to-point, up to 504 bytes, variable, low priority; class 3
        // application-triggered server; the path to the Message Router.
        let mut fo = vec![0x54, 0x02, 0x20, 0x06, 0x24, 0x01, 0x0a, 0x0e];
        fo.extend_from_slice(&0u32.to_le_bytes());
        fo.extend_from_slice(&self.t_o.to_le_bytes());
        fo.extend_from_slice(&(self.context as u16).to_le_bytes());
        fo.extend_from_slice(&[1, 0]);
        fo.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        fo.extend_from_slice(&[1, 0, 0, 0]);
        for _ in 0..2 {
            fo.extend_from_slice(&2_000_000u32.to_le_bytes());
            fo.extend_from_slice(&0x43f8u16.to_le_bytes());
        }
        fo.extend_from_slice(&[0xa3, 0x02, 0x20, 0x02, 0x24, 0x01]);
        m.clear();
        encap(&mut m, 0x6f, self.session, self.context, &unconnected(&fo));
        let delay = self.rng.range(200, 800);
        let t = self.hmi_sends(cx, t + delay, &m);
        let mut reply = vec![0xd4, 0, 0, 0];
        reply.extend_from_slice(&self.o_t.to_le_bytes());
        reply.extend_from_slice(&self.t_o.to_le_bytes());
        reply.extend_from_slice(&(self.context as u16).to_le_bytes());
        reply.extend_from_slice(&[1, 0]);
        reply.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        reply.extend_from_slice(&2_000_000u32.to_le_bytes());
        reply.extend_from_slice(&2_000_000u32.to_le_bytes());
        reply.extend_from_slice(&[0, 0]);
        m.clear();
        encap(
            &mut m,
            0x6f,
            self.session,
            self.context,
            &unconnected(&reply),
        );
        let delay = self.rng.range(500, 2_000);
        self.plc_sends(cx, t + delay, &m)
    }

    /// One poll: a Multiple_Service_Packet of Read_Tag, and its reply.
    fn poll(&mut self, cx: &mut Cx, t: u64) -> u64 {
        self.sequence = self.sequence.wrapping_add(1);
        let n = self.tags.len();
        let mut requests: Vec<Vec<u8>> = Vec::with_capacity(n);
        for tag in &self.tags {
            let mut r = vec![0x4c];
            symbol_path(&mut r, &tag.name);
            r.extend_from_slice(&[1, 0]);
            requests.push(r);
        }
        let msp = multiple(&[0x0a, 0x02, 0x20, 0x02, 0x24, 0x01], &requests);
        let mut m = Vec::new();
        encap(
            &mut m,
            0x70,
            self.session,
            0,
            &connected(self.o_t, self.sequence, &msp),
        );
        let t = self.hmi_sends(cx, t, &m);
        let mut replies: Vec<Vec<u8>> = Vec::with_capacity(n);
        for tag in &mut self.tags {
            if tag.kind == Kind::Real {
                tag.value += (self.rng.range(0, 20) as f64 - 10.0) / 10.0;
            } else if tag.kind == Kind::Dint && self.rng.chance(0.2) {
                tag.value += 1.0;
            }
            let mut r = vec![0xcc, 0, 0, 0];
            tag.reply_data(&mut r);
            replies.push(r);
        }
        let reply = multiple(&[0x8a, 0, 0, 0], &replies);
        m.clear();
        encap(
            &mut m,
            0x70,
            self.session,
            0,
            &connected(self.t_o, self.sequence, &reply),
        );
        let delay = self.rng.range(1_500, 6_000);
        let t = self.plc_sends(cx, t + delay, &m);
        if self.rng.chance(0.3) {
            let ta = t + self.rng.range(200, 600);
            self.conn.ack(cx, Dir::ToServer, ta);
            return ta;
        }
        t
    }

    /// A set point written: Write_Tag of a REAL, and its reply.
    fn write(&mut self, cx: &mut Cx, t: u64) -> u64 {
        self.sequence = self.sequence.wrapping_add(1);
        let Some(tag) = self
            .tags
            .iter()
            .find(|t| t.name.contains("Setpoint"))
            .cloned()
        else {
            return t;
        };
        let value = tag.value as f32 + (self.rng.range(0, 40) as f32 - 20.0) / 10.0;
        let mut w = vec![0x4d];
        symbol_path(&mut w, &tag.name);
        w.extend_from_slice(&[0xca, 0, 1, 0]);
        w.extend_from_slice(&value.to_le_bytes());
        let mut m = Vec::new();
        encap(
            &mut m,
            0x70,
            self.session,
            0,
            &connected(self.o_t, self.sequence, &w),
        );
        let t = self.hmi_sends(cx, t, &m);
        m.clear();
        encap(
            &mut m,
            0x70,
            self.session,
            0,
            &connected(self.t_o, self.sequence, &[0xcd, 0, 0, 0]),
        );
        let delay = self.rng.range(1_000, 4_000);
        self.plc_sends(cx, t + delay, &m)
    }
}

/// A Multiple_Service_Packet: `head` (the service and path, or the reply
/// header), the count, offsets from the count, the messages.
fn multiple(head: &[u8], messages: &[Vec<u8>]) -> Vec<u8> {
    let mut v = head.to_vec();
    v.extend_from_slice(&(messages.len() as u16).to_le_bytes());
    let mut offset = 2 + 2 * messages.len();
    for m in messages {
        v.extend_from_slice(&(offset as u16).to_le_bytes());
        offset += m.len();
    }
    for m in messages {
        v.extend_from_slice(m);
    }
    v
}

impl Source for Session {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        if !self.started {
            self.started = true;
            let t = self.conn.handshake(cx, now, self.rng.range(200, 900));
            let t = self.open(cx, t + 1_000);
            self.next_write = now + self.rng.range(20_000_000, 60_000_000);
            return Some(t + self.period);
        }
        let te = if self.writes && now >= self.next_write {
            self.next_write = now + self.rng.range(20_000_000, 60_000_000);
            self.write(cx, now)
        } else {
            self.poll(cx, now)
        };
        let jitter = self.period / 10;
        Some((now + self.period - jitter + self.rng.range(0, 2 * jitter)).max(te + 1_000))
    }
}

/// Class 1 implicit I/O between a controller (the originator: outputs,
/// O→T) and its adapter (inputs, T→O), each at its RPI.
struct Io {
    controller: HostAddr,
    adapter: HostAddr,
    rng: Rng,
    started: bool,
    o_t: u32,
    t_o: u32,
    rpi: u64,
    /// Sequence numbers of the sequenced address items, each way.
    seq: [u32; 2],
    /// Connected data sequence counts, each way.
    count: [u16; 2],
    ip_id: [u16; 2],
    outputs: Vec<u8>,
    inputs: Vec<u8>,
}

impl Io {
    fn datagram(&mut self, cx: &mut Cx, t: u64, to_adapter: bool) {
        let k = usize::from(!to_adapter);
        self.seq[k] = self.seq[k].wrapping_add(1);
        let data = if to_adapter {
            &mut self.outputs
        } else {
            &mut self.inputs
        };
        // Now and then a value changes: the data sequence count moves.
        if self.rng.chance(0.05) {
            let i = self.rng.range(0, data.len() as u64 - 1) as usize;
            data[i] ^= 1 << self.rng.range(0, 7);
            self.count[k] = self.count[k].wrapping_add(1);
        }
        let (from, to, id) = if to_adapter {
            (self.controller, self.adapter, self.o_t)
        } else {
            (self.adapter, self.controller, self.t_o)
        };
        let mut p = vec![2, 0, 0x02, 0x80, 8, 0];
        p.extend_from_slice(&id.to_le_bytes());
        p.extend_from_slice(&self.seq[k].to_le_bytes());
        p.extend_from_slice(&[0xb1, 0]);
        // Sequence count, the run/idle header (outputs only), the data.
        let header = if to_adapter { 4 } else { 0 };
        p.extend_from_slice(&((2 + header + data.len()) as u16).to_le_bytes());
        p.extend_from_slice(&self.count[k].to_le_bytes());
        if to_adapter {
            p.extend_from_slice(&1u32.to_le_bytes()); // run
        }
        p.extend_from_slice(data);
        let spec = FrameSpec {
            src_mac: from.mac,
            dst_mac: to.mac,
            vlan: None,
            src_ip: from.ip,
            dst_ip: to.ip,
            ip_id: self.ip_id[k],
            ttl: from.ttl,
        };
        self.ip_id[k] = self.ip_id[k].wrapping_add(1);
        let mut buf = cx.buffer();
        build_udp(&mut buf, &spec, IO_PORT, IO_PORT, &p);
        cx.push(t, buf, Class::Enip, false, Pdus::default());
    }
}

impl Source for Io {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        if !self.started {
            self.started = true;
            cx.count_flow();
        }
        self.datagram(cx, now, true);
        let t = now + self.rng.range(200, self.rpi / 2);
        self.datagram(cx, t, false);
        Some(now + self.rpi)
    }
}

/// The EtherNet/IP sources of the plant.
pub(crate) fn build(rng: &mut Rng, start: u64, all: &mut Vec<(u64, Box<dyn Source>)>) {
    for (i, &plc) in controllers().iter().enumerate() {
        for (h, &hmi) in hmis().iter().enumerate() {
            let mut r = rng.fork();
            let conn = TcpConn::new(
                &mut r,
                hmi,
                53_000 + (i * 2 + h) as u16,
                plc,
                PORT,
                None,
                Class::Enip,
            );
            let s = Session {
                conn,
                session: r.next_u64() as u32 | 1,
                context: r.next_u64(),
                o_t: r.next_u64() as u32,
                t_o: r.next_u64() as u32,
                sequence: r.range(0, 60_000) as u16,
                tags: tags(&mut r, i),
                period: if h == 0 {
                    r.range(200_000, 350_000)
                } else {
                    r.range(500_000, 900_000)
                },
                writes: h == 0,
                next_write: 0,
                started: false,
                rng: r,
            };
            all.push((start + rng.range(0, 800_000), Box::new(s)));
        }
        let mut r = rng.fork();
        let mut outputs = vec![0u8; r.range(4, 16) as usize];
        r.fill(&mut outputs);
        let mut inputs = vec![0u8; r.range(8, 32) as usize];
        r.fill(&mut inputs);
        let io = Io {
            controller: plc,
            adapter: adapter(i),
            o_t: r.next_u64() as u32,
            t_o: r.next_u64() as u32,
            rpi: [100_000, 150_000, 200_000][i % 3],
            seq: [r.next_u64() as u32, r.next_u64() as u32],
            count: [0, 0],
            ip_id: [r.next_u64() as u16, r.next_u64() as u16],
            outputs,
            inputs,
            started: false,
            rng: r,
        };
        all.push((start + rng.range(0, 100_000), Box::new(io)));
    }
}
