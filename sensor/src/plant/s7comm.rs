//! S7comm traffic on TCP port 102: HMIs and SCADA connect to Siemens PLCs
//! (TPKT + COTP connection request/confirm with TSAP parameters, setup
//! communication) and then cycle read-var jobs with several items (DB, M, I
//! and Q areas) and occasional write-var jobs. An engineering station opens a
//! short session now and then to read the system status lists 0x0011
//! (module identification) and 0x001C (component identification): benign
//! here, as its address is the site's engineering station, but the same
//! reads from a new host are the start of a fingerprinting scan.

use std::net::Ipv4Addr;

use super::net::{self, HostAddr};
use super::tcp::{Dir, Pdu, Segmenting, TcpConn};
use super::{Class, Cx, Rng, Source};

/// The ISO-TSAP port.
pub const PORT: u16 = 102;
/// The PDU size offered and accepted in setup communication.
const PDU_SIZE: u16 = 480;

/// ROSCTR values.
const JOB: u8 = 1;
const ACK_DATA: u8 = 3;
const USERDATA: u8 = 7;

/// Wraps an S7 PDU in TPKT and a COTP data TPDU (last data unit).
pub(crate) fn tpkt_dt(s7: &[u8]) -> Vec<u8> {
    let len = 4 + 3 + s7.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&[0x03, 0x00]); // TPKT version 3, reserved
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&[0x02, 0xf0, 0x80]); // COTP: length 2, DT, EOT + TPDU 0
    out.extend_from_slice(s7);
    out
}

/// A COTP connection request (`confirm` false) or confirm, in TPKT, with
/// the calling TSAP 0x0100 and the called TSAP of rack 0 slot `slot`.
pub(crate) fn cotp_connect(confirm: bool, dst_ref: u16, src_ref: u16, slot: u8) -> Vec<u8> {
    let mut cotp = vec![
        17,                                // length indicator
        if confirm { 0xd0 } else { 0xe0 }, // CC or CR
    ];
    cotp.extend_from_slice(&dst_ref.to_be_bytes());
    cotp.extend_from_slice(&src_ref.to_be_bytes());
    cotp.push(0x00); // class 0
    cotp.extend_from_slice(&[0xc0, 0x01, 0x0a]); // TPDU size 1024
    cotp.extend_from_slice(&[0xc1, 0x02, 0x01, 0x00]); // calling TSAP
    cotp.extend_from_slice(&[0xc2, 0x02, 0x01, slot & 0x1f]); // called TSAP
    let len = 4 + cotp.len();
    let mut out = vec![0x03, 0x00];
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&cotp);
    out
}

/// An S7 PDU: header (12 bytes with the error fields of ack-data, else 10),
/// parameters and data.
pub(crate) fn s7_pdu(rosctr: u8, pdu_ref: u16, param: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x32, rosctr, 0x00, 0x00];
    out.extend_from_slice(&pdu_ref.to_be_bytes());
    out.extend_from_slice(&(param.len() as u16).to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    if rosctr == 2 || rosctr == ACK_DATA {
        out.extend_from_slice(&[0x00, 0x00]); // error class, error code
    }
    out.extend_from_slice(param);
    out.extend_from_slice(data);
    out
}

/// The setup-communication parameters (function 0xF0).
pub(crate) fn setup_param() -> Vec<u8> {
    let mut p = vec![0xf0, 0x00, 0x00, 0x01, 0x00, 0x01]; // max AmQ calling/called 1
    p.extend_from_slice(&PDU_SIZE.to_be_bytes());
    p
}

/// One variable of a read or write job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Item {
    /// Area code: 0x81 inputs, 0x82 outputs, 0x83 flags, 0x84 data block.
    pub(crate) area: u8,
    /// Data block number (0 outside data blocks).
    pub(crate) db: u16,
    /// Byte offset.
    pub(crate) offset: u32,
    /// Bytes.
    pub(crate) len: u16,
}

fn item_spec(out: &mut Vec<u8>, item: Item) {
    out.extend_from_slice(&[0x12, 0x0a, 0x10, 0x02]); // variable spec, length 10, S7ANY, BYTE
    out.extend_from_slice(&item.len.to_be_bytes());
    out.extend_from_slice(&item.db.to_be_bytes());
    out.push(item.area);
    let bit_address = item.offset << 3;
    out.extend_from_slice(&bit_address.to_be_bytes()[1..]);
}

/// A read-var job's parameters.
pub(crate) fn read_param(items: &[Item]) -> Vec<u8> {
    let mut p = vec![0x04, items.len() as u8];
    for &i in items {
        item_spec(&mut p, i);
    }
    p
}

/// Data items (return code or reserved byte, transport size BYTE/WORD,
/// length in bits, bytes, a fill byte between items of odd length).
fn data_items(rng: &mut Rng, first: u8, items: &[Item]) -> Vec<u8> {
    let mut d = Vec::new();
    for (k, &i) in items.iter().enumerate() {
        d.extend_from_slice(&[first, 0x04]);
        d.extend_from_slice(&(i.len * 8).to_be_bytes());
        let at = d.len();
        d.resize(at + usize::from(i.len), 0);
        rng.fill(&mut d[at..]);
        if i.len % 2 == 1 && k + 1 < items.len() {
            d.push(0);
        }
    }
    d
}

fn random_items(rng: &mut Rng, n: usize) -> Vec<Item> {
    let mut total = 0u16;
    let mut items = Vec::new();
    for _ in 0..n {
        let area = rng
            .pick(&[0x84u8, 0x84, 0x84, 0x83, 0x81, 0x82])
            .unwrap_or(0x84);
        let (db, len) = match area {
            0x84 => (rng.range(1, 40) as u16, rng.range(2, 120) as u16),
            _ => (0, rng.range(1, 16) as u16),
        };
        if total + len + 6 > 380 {
            break;
        }
        total += len + 6;
        items.push(Item {
            area,
            db,
            offset: rng.range(0, 500) as u32,
            len,
        });
    }
    items
}

/// A userdata SZL read request's parameters and data.
pub(crate) fn szl_request(seq: u8, szl_id: u16, index: u16) -> (Vec<u8>, Vec<u8>) {
    let param = vec![
        0x00, 0x01, 0x12, // parameter head
        0x04, // parameter length
        0x11, // method: request
        0x44, // type 4 (request), group 4 (CPU functions)
        0x01, // subfunction: read SZL
        seq,
    ];
    let mut data = vec![0xff, 0x09, 0x00, 0x04]; // return code, octet string, length 4
    data.extend_from_slice(&szl_id.to_be_bytes());
    data.extend_from_slice(&index.to_be_bytes());
    (param, data)
}

/// A padded ASCII field.
fn text(out: &mut Vec<u8>, s: &str, width: usize) {
    let b = s.as_bytes();
    for k in 0..width {
        out.push(b.get(k).copied().unwrap_or(b' '));
    }
}

/// A userdata SZL read response (0x0011 or 0x001C) for a PLC.
pub(crate) fn szl_response(seq: u8, szl_id: u16, plc: u8) -> (Vec<u8>, Vec<u8>) {
    let param = vec![
        0x00, 0x01, 0x12, // parameter head
        0x08, // parameter length
        0x12, // method: response
        0x84, // type 8 (response), group 4 (CPU functions)
        0x01, // subfunction: read SZL
        seq, 0x00, // data unit reference
        0x00, // last data unit
        0x00, 0x00, // error code
    ];
    let mut records = Vec::new();
    let (record_len, count) = if szl_id == 0x001c {
        let names = [
            (1u16, format!("PLANT-PLC-{plc:02}")),
            (2, "CPU 315-2 PN/DP".to_owned()),
            (3, format!("LINE {plc}")),
            (5, format!("S C-X4U{plc:02}4711")),
            (7, "CPU 315-2 PN/DP".to_owned()),
        ];
        for (index, name) in &names {
            records.extend_from_slice(&index.to_be_bytes());
            text(&mut records, name, 32);
        }
        (34u16, names.len() as u16)
    } else {
        for (index, order, version) in [
            (1u16, "6ES7 315-2EH14-0AB0", [0x00u8, 0x01]),
            (6, "6ES7 315-2EH14-0AB0", [0x00, 0x01]),
            (7, "", [0x03, 0x02]),
        ] {
            records.extend_from_slice(&index.to_be_bytes());
            text(&mut records, order, 20);
            records.extend_from_slice(&[0x00, 0x00]); // module type id
            if index == 7 {
                records.extend_from_slice(&[b'V', 0x03]); // firmware V3.2.x
            } else {
                records.extend_from_slice(&[0x00, 0x0c]);
            }
            records.extend_from_slice(&version);
        }
        (28u16, 3u16)
    };
    let mut data = vec![0xff, 0x09];
    data.extend_from_slice(&((8 + records.len()) as u16).to_be_bytes());
    data.extend_from_slice(&szl_id.to_be_bytes());
    data.extend_from_slice(&0u16.to_be_bytes()); // index
    data.extend_from_slice(&record_len.to_be_bytes());
    data.extend_from_slice(&count.to_be_bytes());
    data.extend_from_slice(&records);
    (param, data)
}

/// What a session does after its setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Cycles read/write var forever.
    Hmi,
    /// Reads the two SZLs, then closes.
    Engineering,
}

/// An S7comm client's session with one PLC.
pub(crate) struct Session {
    conn: TcpConn,
    rng: Rng,
    role: Role,
    plc: u8,
    period_us: u64,
    write_chance: f64,
    phase: u8,
    pdu_ref: u16,
    tags: Vec<Vec<Item>>,
    /// What it writes, when it writes (outputs, flags, DB values).
    set_points: Vec<Vec<Item>>,
}

impl Session {
    fn next_ref(&mut self) -> u16 {
        self.pdu_ref = self.pdu_ref.wrapping_add(1).max(1);
        self.pdu_ref
    }

    /// A job and its response: returns the end time.
    fn exchange(
        &mut self,
        cx: &mut Cx,
        t: u64,
        request: &[u8],
        response: &[u8],
        delay: u64,
    ) -> u64 {
        let req = tpkt_dt(request);
        let resp = tpkt_dt(response);
        let te = self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToServer,
            t,
            &req,
            &[Pdu::Request(req.len())],
            Segmenting::OT,
        );
        let te = self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToClient,
            te + delay,
            &resp,
            &[Pdu::Response(resp.len())],
            Segmenting::OT,
        );
        if self.rng.chance(0.3) {
            let ta = te + self.rng.range(100, 400);
            self.conn.ack(cx, Dir::ToServer, ta);
            return ta;
        }
        te
    }

    /// COTP connect and setup communication from `t`.
    fn connect(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let client_ref = self.rng.range(1, 0xfffe) as u16;
        let server_ref = self.rng.range(1, 0xfffe) as u16;
        let cr = cotp_connect(false, 0, client_ref, 2);
        let cc = cotp_connect(true, client_ref, server_ref, 2);
        let te = self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToServer,
            t,
            &cr,
            &[],
            Segmenting::OT,
        );
        let te = self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToClient,
            te + 900,
            &cc,
            &[],
            Segmenting::OT,
        );
        let r = self.next_ref();
        let job = s7_pdu(JOB, r, &setup_param(), &[]);
        let ack = s7_pdu(ACK_DATA, r, &setup_param(), &[]);
        self.exchange(cx, te + 300, &job, &ack, 1_500)
    }

    fn cycle(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let r = self.next_ref();
        if self.rng.chance(self.write_chance) {
            let k = self.rng.range(0, self.set_points.len().max(1) as u64 - 1) as usize;
            let items = self.set_points.get(k).cloned().unwrap_or_default();
            if !items.is_empty() {
                let mut param = read_param(&items);
                param[0] = 0x05; // write var
                let data = data_items(&mut self.rng, 0x00, &items);
                let job = s7_pdu(JOB, r, &param, &data);
                let ack = s7_pdu(
                    ACK_DATA,
                    r,
                    &[0x05, items.len() as u8],
                    &vec![0xff; items.len()],
                );
                let delay = self.rng.range(2_000, 9_000);
                return self.exchange(cx, t, &job, &ack, delay);
            }
        }
        let tag = self.rng.range(0, self.tags.len() as u64 - 1) as usize;
        let items = self.tags.get(tag).cloned().unwrap_or_default();
        let job = s7_pdu(JOB, r, &read_param(&items), &[]);
        let data = data_items(&mut self.rng, 0xff, &items);
        let ack = s7_pdu(ACK_DATA, r, &[0x04, items.len() as u8], &data);
        let delay = self.rng.range(2_000, 10_000);
        self.exchange(cx, t, &job, &ack, delay)
    }

    fn szl(&mut self, cx: &mut Cx, t: u64, seq: u8, id: u16) -> u64 {
        let r = self.next_ref();
        let (p, d) = szl_request(seq, id, 0);
        let job = s7_pdu(USERDATA, r, &p, &d);
        let (p, d) = szl_response(seq, id, self.plc);
        let resp = s7_pdu(USERDATA, r, &p, &d);
        let delay = self.rng.range(3_000, 12_000);
        self.exchange(cx, t, &job, &resp, delay)
    }
}

impl Source for Session {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        self.phase = self.phase.saturating_add(1);
        match (self.role, self.phase) {
            (_, 1) => {
                let t = self.conn.handshake(cx, now, self.rng.range(150, 800));
                let t = self.connect(cx, t + 200);
                Some(t + self.rng.range(1_000, self.period_us))
            }
            (Role::Engineering, 2) => Some(self.szl(cx, now, 1, 0x0011) + 20_000),
            (Role::Engineering, 3) => Some(self.szl(cx, now, 2, 0x001c) + 50_000),
            (Role::Engineering, _) => {
                self.conn.close(cx, Dir::ToServer, now, 600);
                None
            }
            (Role::Hmi, _) => {
                self.phase = 2;
                let te = self.cycle(cx, now);
                let jitter = self.period_us / 10;
                let next = now + self.period_us - jitter + self.rng.range(0, 2 * jitter);
                Some(next.max(te + 1_000))
            }
        }
    }
}

/// A new S7 session from `client` to `plc` (index `n`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn session(
    rng: &mut Rng,
    port: u16,
    client: HostAddr,
    plc: HostAddr,
    n: u8,
    period_us: u64,
    write_chance: f64,
    engineering: bool,
) -> Session {
    let mut rng = rng.fork();
    let conn = TcpConn::new(&mut rng, client, port, plc, PORT, Some(20), Class::S7comm);
    let tags = (0..4)
        .map(|_| {
            let n = rng.range(2, 5) as usize;
            random_items(&mut rng, n)
        })
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>();
    let set_points = (0..2)
        .map(|_| {
            let n = rng.range(1, 2) as usize;
            let items = random_items(&mut rng, n);
            items
                .into_iter()
                .filter(|i| i.area != 0x81)
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>();
    let tags = if tags.is_empty() {
        vec![vec![Item {
            area: 0x84,
            db: 1,
            offset: 0,
            len: 4,
        }]]
    } else {
        tags
    };
    Session {
        conn,
        pdu_ref: rng.range(1, 60_000) as u16,
        rng,
        role: if engineering {
            Role::Engineering
        } else {
            Role::Hmi
        },
        plc: n,
        period_us,
        write_chance,
        phase: 0,
        tags,
        set_points,
    }
}

/// The S7 PLCs.
pub(crate) fn plcs() -> Vec<HostAddr> {
    (1..=6u8)
        .map(|i| net::host(Ipv4Addr::new(10, 10, 4, i), net::OUI_SIEMENS, 30))
        .collect()
}

/// The engineering station.
pub(crate) fn engineering_station() -> HostAddr {
    net::host(Ipv4Addr::new(10, 10, 1, 50), net::OUI_DELL, 128)
}

/// The engineering station's periodic SZL reads: the PLCs in turn, the
/// same routine every day.
struct Engineering {
    rng: Rng,
    /// Seed of what it reads from each PLC.
    tags: u64,
    visits: usize,
}

impl Source for Engineering {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        let plcs = plcs();
        let k = self.visits % plcs.len();
        self.visits += 1;
        let plc = plcs.get(k).copied()?;
        let host = engineering_station();
        let port = cx.ephemeral_port(host.ip, &mut self.rng);
        let mut tags = Rng::new(self.tags ^ k as u64);
        let mut s = session(&mut tags, port, host, plc, k as u8 + 1, 100_000, 0.0, true);
        s.reseed(self.rng.next_u64());
        cx.spawn(now, Box::new(s));
        Some(now + self.rng.range(15_000_000, 30_000_000))
    }
}

/// The S7comm sources of the plant.
pub(crate) fn build(rng: &mut Rng, start: u64, all: &mut Vec<(u64, Box<dyn Source>)>) {
    let clients = super::modbus::masters();
    let plcs = plcs();
    let mut port = 51_000u16;
    for (i, &client) in clients.iter().enumerate() {
        for (j, &plc) in plcs.iter().enumerate() {
            if i >= 2 && (j + i) % 2 == 0 {
                continue;
            }
            port += 3;
            let period = rng.range(120_000, 460_000);
            let write = if i >= 2 { 0.02 } else { 0.0 };
            let s = session(rng, port, client, plc, j as u8 + 1, period, write, false);
            all.push((start + rng.range(0, 300_000), Box::new(s)));
        }
    }
    let engineering = Engineering {
        rng: rng.fork(),
        tags: rng.next_u64(),
        visits: 0,
    };
    all.push((start + 2_000_000, Box::new(engineering)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cotp_connect_request_has_tsaps() {
        let cr = cotp_connect(false, 0, 0x0005, 2);
        assert_eq!(
            cr,
            [
                0x03, 0x00, 0x00, 0x16, // TPKT version 3, length 22
                0x11, 0xe0, // length indicator 17, CR
                0x00, 0x00, 0x00, 0x05, 0x00, // dst ref 0, src ref 5, class 0
                0xc0, 0x01, 0x0a, // TPDU size 1024
                0xc1, 0x02, 0x01, 0x00, // calling TSAP 0x0100
                0xc2, 0x02, 0x01, 0x02, // called TSAP: rack 0, slot 2
            ]
        );
    }

    #[test]
    fn read_job_lengths_add_up() {
        let items = [
            Item {
                area: 0x84,
                db: 3,
                offset: 10,
                len: 5,
            },
            Item {
                area: 0x83,
                db: 0,
                offset: 0,
                len: 2,
            },
        ];
        let pdu = s7_pdu(JOB, 7, &read_param(&items), &[]);
        // header 10 + function, count + 2 items of 12
        assert_eq!(pdu.len(), 10 + 2 + 24);
        assert_eq!(u16::from_be_bytes([pdu[6], pdu[7]]), 26); // parameter length
                                                              // first item: DB 3, area 0x84, bit address 80
        assert_eq!(
            &pdu[12..24],
            &[0x12, 0x0a, 0x10, 0x02, 0, 5, 0, 3, 0x84, 0, 0, 80]
        );
        let mut rng = Rng::new(1);
        let data = data_items(&mut rng, 0xff, &items);
        // 4 + 5 + fill byte, then 4 + 2
        assert_eq!(data.len(), 10 + 6);
        let framed = tpkt_dt(&pdu);
        assert_eq!(
            usize::from(u16::from_be_bytes([framed[2], framed[3]])),
            framed.len()
        );
    }

    #[test]
    fn szl_response_lengths_add_up() {
        for id in [0x0011u16, 0x001c] {
            let (param, data) = szl_response(1, id, 3);
            assert_eq!(param.len(), 12);
            let declared = usize::from(u16::from_be_bytes([data[2], data[3]]));
            assert_eq!(declared + 4, data.len());
            let record = usize::from(u16::from_be_bytes([data[8], data[9]]));
            let count = usize::from(u16::from_be_bytes([data[10], data[11]]));
            assert_eq!(12 + record * count, data.len());
        }
    }
}
