//! Modbus/TCP traffic: SCADA masters, HMIs and a historian polling PLCs and
//! serial gateways. Gateways carry several unit ids, answer each after a
//! serial-line delay of tens of milliseconds and now and then with an
//! exception (0x0B gateway target failed to respond, 0x02 illegal data
//! address); masters pipeline their requests to them (several transaction
//! ids outstanding, often several requests in one segment). HMIs also write
//! (functions 5, 6, 15, 16); the historian opens short connections for one
//! read each. Reads use realistic quantities (10–125 registers).

use std::net::Ipv4Addr;

use super::net::{self, HostAddr};
use super::tcp::{Dir, Pdu, Segmenting, TcpConn};
use super::{Class, Cx, Rng, Source};

/// The Modbus/TCP port.
pub const PORT: u16 = 502;

/// A read poll item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Read {
    /// Function 1, 2, 3 or 4.
    pub(crate) function: u8,
    /// First address.
    pub(crate) address: u16,
    /// Quantity of coils/inputs or registers.
    pub(crate) quantity: u16,
}

/// Appends an MBAP header and `pdu` for `unit` with transaction `tid`.
pub(crate) fn adu(out: &mut Vec<u8>, tid: u16, unit: u8, pdu: &[u8]) {
    out.extend_from_slice(&tid.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // protocol id 0
    out.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes()); // unit + PDU
    out.push(unit);
    out.extend_from_slice(pdu);
}

/// The request PDU of a read.
pub(crate) fn read_request(r: Read) -> Vec<u8> {
    let mut p = vec![r.function];
    p.extend_from_slice(&r.address.to_be_bytes());
    p.extend_from_slice(&r.quantity.to_be_bytes());
    p
}

/// The normal response PDU of a read, with random values.
pub(crate) fn read_response(rng: &mut Rng, r: Read) -> Vec<u8> {
    let bytes = match r.function {
        1 | 2 => usize::from(r.quantity).div_ceil(8),
        _ => usize::from(r.quantity) * 2,
    };
    let mut p = vec![r.function, bytes as u8];
    let at = p.len();
    p.resize(at + bytes, 0);
    rng.fill(&mut p[at..]);
    if matches!(r.function, 1 | 2) && r.quantity % 8 != 0 {
        // Bits past the quantity are zero.
        if let Some(last) = p.last_mut() {
            *last &= (1u8 << (r.quantity % 8)) - 1;
        }
    } else if matches!(r.function, 3 | 4) {
        // Process values: mostly small numbers.
        for pair in p[at..].chunks_exact_mut(2) {
            pair[0] &= 0x0f;
        }
    }
    p
}

/// A set point an HMI writes: function, address and quantity (coils or
/// registers; 1 for the single writes).
pub(crate) type SetPoint = (u8, u16, u16);

/// The few set points a writer writes, near `base`.
fn set_points(rng: &mut Rng, base: u16) -> Vec<SetPoint> {
    (0..3)
        .map(|_| {
            let function = rng.pick(&[5u8, 6, 6, 15, 16, 16]).unwrap_or(6);
            let quantity = match function {
                15 => rng.range(2, 16) as u16,
                16 => rng.range(1, 12) as u16,
                _ => 1,
            };
            (function, base + rng.range(0, 40) as u16, quantity)
        })
        .collect()
}

/// A write request PDU to `point` (values from `rng`) and the device's
/// normal response PDU.
pub(crate) fn write_pair(rng: &mut Rng, point: SetPoint) -> (Vec<u8>, Vec<u8>) {
    let (function, address, quantity) = point;
    let mut req = vec![function];
    req.extend_from_slice(&address.to_be_bytes());
    match function {
        5 => {
            let on = rng.chance(0.5);
            req.extend_from_slice(if on { &[0xff, 0x00] } else { &[0x00, 0x00] });
            (req.clone(), req)
        }
        6 => {
            req.extend_from_slice(&(rng.range(0, 4000) as u16).to_be_bytes());
            (req.clone(), req)
        }
        15 => {
            let bytes = usize::from(quantity).div_ceil(8);
            req.extend_from_slice(&quantity.to_be_bytes());
            req.push(bytes as u8);
            let mut values = vec![0u8; bytes];
            rng.fill(&mut values);
            if quantity % 8 != 0 {
                if let Some(last) = values.last_mut() {
                    *last &= (1u8 << (quantity % 8)) - 1;
                }
            }
            req.extend_from_slice(&values);
            let mut resp = vec![function];
            resp.extend_from_slice(&address.to_be_bytes());
            resp.extend_from_slice(&quantity.to_be_bytes());
            (req, resp)
        }
        _ => {
            req.extend_from_slice(&quantity.to_be_bytes());
            req.push((quantity * 2) as u8);
            for _ in 0..quantity {
                req.extend_from_slice(&(rng.range(0, 4000) as u16).to_be_bytes());
            }
            let mut resp = vec![function];
            resp.extend_from_slice(&address.to_be_bytes());
            resp.extend_from_slice(&quantity.to_be_bytes());
            (req, resp)
        }
    }
}

/// A random read of realistic size.
fn random_read(rng: &mut Rng) -> Read {
    let function = rng.pick(&[3u8, 3, 3, 4, 4, 1, 2]).unwrap_or(3);
    let (address, quantity) = match function {
        1 | 2 => (rng.range(0, 200) as u16 * 8, rng.range(8, 96) as u16),
        _ => (
            rng.range(0, 400) as u16 * 10,
            *[10u16, 16, 20, 32, 50, 64, 100, 125]
                .get(rng.range(0, 7) as usize)
                .unwrap_or(&10),
        ),
    };
    Read {
        function,
        address,
        quantity,
    }
}

/// One request of a cycle: its PDU, and either the device's fixed answer
/// (writes) or the read it answers.
type Job = (Vec<u8>, Option<Vec<u8>>, Option<Read>);

/// How a poller behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Polls a PLC directly.
    Device,
    /// Polls the units behind a serial gateway (pipelined, slow).
    Gateway,
}

/// A Modbus master's connection to one device.
pub(crate) struct Poller {
    conn: TcpConn,
    rng: Rng,
    kind: Kind,
    units: Vec<u8>,
    reads: Vec<Read>,
    period_us: u64,
    /// Probability that a cycle also writes (HMIs).
    write_chance: f64,
    /// What it writes, when it writes.
    set_points: Vec<SetPoint>,
    /// Cycles left before the connection ends (`None`: runs forever).
    cycles_left: Option<u32>,
    /// Whether the client closes the connection after the last cycle.
    close_at_end: bool,
    /// Most reads per cycle of a device poller.
    max_reads: u64,
    started: bool,
    tid: u16,
    last_exception: u64,
    /// A read of registers the unit does not have, asked every cycle and
    /// rejected every time (a master configured for another device model).
    missing: Option<(u8, Read)>,
}

impl Poller {
    #[allow(clippy::too_many_arguments)]
    fn new(
        rng: &mut Rng,
        port: u16,
        master: HostAddr,
        device: HostAddr,
        kind: Kind,
        units: Vec<u8>,
        period_us: u64,
        write_chance: f64,
        vlan: Option<u16>,
    ) -> Poller {
        let mut rng = rng.fork();
        let conn = TcpConn::new(&mut rng, master, port, device, PORT, vlan, Class::Modbus);
        let n = if kind == Kind::Gateway { 6 } else { 4 };
        let reads: Vec<Read> = (0..n).map(|_| random_read(&mut rng)).collect();
        let base = reads.first().map(|r| r.address).unwrap_or(0);
        let set_points = set_points(&mut rng, base);
        let tid = rng.next_u64() as u16;
        Poller {
            set_points,
            conn,
            rng,
            kind,
            units,
            reads,
            period_us,
            write_chance,
            cycles_left: None,
            close_at_end: false,
            max_reads: 3,
            started: false,
            tid,
            last_exception: 0,
            missing: None,
        }
    }

    fn next_tid(&mut self) -> u16 {
        self.tid = self.tid.wrapping_add(1);
        self.tid
    }

    /// One polling cycle from `t`; returns when it ends.
    fn cycle(&mut self, cx: &mut Cx, t: u64) -> u64 {
        match self.kind {
            Kind::Gateway => self.gateway_cycle(cx, t),
            Kind::Device => self.device_cycle(cx, t),
        }
    }

    /// The response PDU of a read, or an exception now and then (at most
    /// one every 10 s per connection, and never to a write).
    fn answer(&mut self, t: u64, r: Read) -> (Vec<u8>, u64) {
        let gateway = self.kind == Kind::Gateway;
        let p = if gateway { 0.01 } else { 0.0015 };
        if t.saturating_sub(self.last_exception) > 10_000_000 && self.rng.chance(p) {
            self.last_exception = t;
            if gateway && self.rng.chance(0.7) {
                // The serial device did not answer: the gateway gives up
                // after its own timeout.
                return (
                    vec![r.function | 0x80, 0x0b],
                    self.rng.range(150_000, 300_000),
                );
            }
            return (vec![r.function | 0x80, 0x02], self.rng.range(2_000, 8_000));
        }
        let delay = if gateway {
            self.rng.range(15_000, 60_000)
        } else {
            self.rng.range(1_000, 8_000)
        };
        (read_response(&mut self.rng, r), delay)
    }

    fn gateway_cycle(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let mut requests = Vec::new();
        let mut pdus = Vec::new();
        let mut asked = Vec::new();
        let units = self.units.clone();
        for unit in units {
            let r = self.rng.pick(&self.reads).unwrap_or(Read {
                function: 3,
                address: 0,
                quantity: 10,
            });
            let tid = self.next_tid();
            adu(&mut requests, tid, unit, &read_request(r));
            pdus.push(Pdu::Request(requests.len()));
            asked.push((tid, unit, r));
        }
        let missing_tid = self.missing.map(|(unit, r)| {
            let tid = self.next_tid();
            adu(&mut requests, tid, unit, &read_request(r));
            pdus.push(Pdu::Request(requests.len()));
            asked.push((tid, unit, r));
            tid
        });
        let mut te = if self.rng.chance(0.6) {
            // All requests in one segment.
            self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                t,
                &requests,
                &pdus,
                Segmenting::OT,
            )
        } else {
            let mut tt = t;
            let mut start = 0;
            for p in &pdus {
                let Pdu::Request(end) = *p else { continue };
                let one = [Pdu::Request(end - start)];
                tt = self.conn.send(
                    cx,
                    &mut self.rng,
                    Dir::ToServer,
                    tt,
                    requests.get(start..end).unwrap_or(&[]),
                    &one,
                    Segmenting::OT,
                ) + self.rng.range(50, 400);
                start = end;
            }
            tt
        };
        // The gateway asks its serial units one after the other.
        for (tid, unit, r) in asked {
            let (pdu, delay) = if Some(tid) == missing_tid {
                // The serial device answers at once that it has no such
                // register.
                (
                    vec![r.function | 0x80, 0x02],
                    self.rng.range(15_000, 40_000),
                )
            } else {
                self.answer(te, r)
            };
            te += delay;
            let mut resp = Vec::new();
            adu(&mut resp, tid, unit, &pdu);
            let n = resp.len();
            te = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToClient,
                te,
                &resp,
                &[Pdu::Response(n)],
                Segmenting::OT,
            );
        }
        if self.rng.chance(0.5) {
            te += self.rng.range(100, 500);
            self.conn.ack(cx, Dir::ToServer, te);
        }
        te
    }

    fn device_cycle(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let unit = self.units.first().copied().unwrap_or(1);
        let count = self.rng.range(1, self.max_reads) as usize;
        let mut jobs: Vec<Job> = Vec::new();
        for _ in 0..count {
            let r = self.rng.pick(&self.reads).unwrap_or(Read {
                function: 3,
                address: 0,
                quantity: 10,
            });
            jobs.push((read_request(r), None, Some(r)));
        }
        if self.write_chance > 0.0 && self.rng.chance(self.write_chance) {
            let point = self.rng.pick(&self.set_points).unwrap_or((6, 0, 1));
            let (req, resp) = write_pair(&mut self.rng, point);
            jobs.push((req, Some(resp), None));
        }
        let mut te = t;
        if self.rng.chance(0.35) && jobs.len() > 1 {
            // Pipelined: every request at once, then the answers in order.
            let mut requests = Vec::new();
            let mut pdus = Vec::new();
            let mut tids = Vec::new();
            for (req, _, _) in &jobs {
                let tid = self.next_tid();
                adu(&mut requests, tid, unit, req);
                pdus.push(Pdu::Request(requests.len()));
                tids.push(tid);
            }
            te = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                te,
                &requests,
                &pdus,
                Segmenting::OT,
            );
            let mut responses = Vec::new();
            let mut rpdus = Vec::new();
            let mut delay = 0;
            for ((_, fixed, read), tid) in jobs.into_iter().zip(tids) {
                let pdu = match (fixed, read) {
                    (Some(resp), _) => resp,
                    (None, Some(r)) => {
                        let (pdu, d) = self.answer(te, r);
                        delay = delay.max(d);
                        pdu
                    }
                    (None, None) => continue,
                };
                adu(&mut responses, tid, unit, &pdu);
                rpdus.push(Pdu::Response(responses.len()));
            }
            te += delay.max(1_000);
            te = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToClient,
                te,
                &responses,
                &rpdus,
                Segmenting::OT,
            );
        } else {
            for (req, fixed, read) in jobs {
                let tid = self.next_tid();
                let mut request = Vec::new();
                adu(&mut request, tid, unit, &req);
                let n = request.len();
                te = self.conn.send(
                    cx,
                    &mut self.rng,
                    Dir::ToServer,
                    te,
                    &request,
                    &[Pdu::Request(n)],
                    Segmenting::OT,
                );
                let (pdu, delay) = match (fixed, read) {
                    (Some(resp), _) => (resp, self.rng.range(1_000, 6_000)),
                    (None, Some(r)) => self.answer(te, r),
                    (None, None) => continue,
                };
                let mut response = Vec::new();
                adu(&mut response, tid, unit, &pdu);
                let n = response.len();
                te = self.conn.send(
                    cx,
                    &mut self.rng,
                    Dir::ToClient,
                    te + delay,
                    &response,
                    &[Pdu::Response(n)],
                    Segmenting::OT,
                ) + self.rng.range(200, 1_500);
            }
        }
        if self.rng.chance(0.4) {
            te += self.rng.range(100, 500);
            self.conn.ack(cx, Dir::ToServer, te);
        }
        te
    }
}

impl Source for Poller {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        if !self.started {
            self.started = true;
            let rtt = self.rng.range(150, 900);
            let t = self.conn.handshake(cx, now, rtt);
            return Some(t + self.rng.range(1_000, self.period_us.max(2_000)));
        }
        if self.cycles_left == Some(0) {
            if self.close_at_end {
                let rtt = self.rng.range(150, 900);
                self.conn.close(cx, Dir::ToServer, now, rtt);
            }
            return None;
        }
        let te = self.cycle(cx, now);
        if let Some(n) = self.cycles_left.as_mut() {
            *n -= 1;
            if *n == 0 && self.close_at_end {
                return Some(te + self.rng.range(500, 3_000));
            }
        }
        let jitter = self.period_us / 20;
        let next = now + self.period_us - jitter + self.rng.range(0, 2 * jitter);
        Some(next.max(te + 1_000))
    }
}

/// The historian: every few seconds a short connection to a random device,
/// one read of that device's tags, then close.
struct Historian {
    rng: Rng,
    host: HostAddr,
    devices: Vec<HostAddr>,
    /// Seed of the tags it reads from each device (the same every day).
    tags: u64,
}

impl Source for Historian {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        let device = self.rng.pick(&self.devices)?;
        let port = cx.ephemeral_port(self.host.ip, &mut self.rng);
        // The device's tag list, then this visit's own timing.
        let mut tags = Rng::new(self.tags ^ u64::from(u32::from(device.ip)));
        let mut p = Poller::new(
            &mut tags,
            port,
            self.host,
            device,
            Kind::Device,
            vec![1],
            10_000,
            0.0,
            None,
        );
        p.reseed(self.rng.next_u64());
        // One block of the device's tags per visit, the same block each time.
        p.reads.truncate(1);
        p.max_reads = 1;
        p.cycles_left = Some(1);
        p.close_at_end = true;
        cx.spawn(now, Box::new(p));
        Some(now + self.rng.range(400_000, 1_200_000))
    }
}

/// The masters of the plant.
pub(crate) fn masters() -> Vec<HostAddr> {
    let mut m = Vec::new();
    for last in [10u8, 11, 20, 21, 22, 23] {
        m.push(net::host(
            Ipv4Addr::new(10, 10, 1, last),
            net::OUI_DELL,
            128,
        ));
    }
    m
}

/// The PLCs speaking Modbus/TCP directly.
pub(crate) fn devices() -> Vec<HostAddr> {
    (1..=20u8)
        .map(|i| net::host(Ipv4Addr::new(10, 10, 2, i), net::OUI_SCHNEIDER, 64))
        .collect()
}

/// The serial gateways.
pub(crate) fn gateways() -> Vec<HostAddr> {
    (1..=4u8)
        .map(|i| net::host(Ipv4Addr::new(10, 10, 3, i), net::OUI_MOXA, 64))
        .collect()
}

/// The historian.
pub(crate) fn historian() -> HostAddr {
    net::host(Ipv4Addr::new(10, 10, 1, 30), net::OUI_DELL, 128)
}

/// The Modbus sources of the plant.
pub(crate) fn build(rng: &mut Rng, start: u64, all: &mut Vec<(u64, Box<dyn Source>)>) {
    let masters = masters();
    let devices = devices();
    let mut port = 50_000u16;
    let mut add = |rng: &mut Rng,
                   all: &mut Vec<(u64, Box<dyn Source>)>,
                   master: HostAddr,
                   device: HostAddr,
                   kind: Kind,
                   units: Vec<u8>,
                   period: u64,
                   write: f64,
                   vlan: Option<u16>| {
        port += 7;
        let p = Poller::new(rng, port, master, device, kind, units, period, write, vlan);
        let at = start + rng.range(0, 200_000);
        all.push((at, Box::new(p)));
    };
    for (i, &master) in masters.iter().enumerate() {
        let scada = i < 2;
        for (j, &device) in devices.iter().enumerate() {
            // SCADA polls every PLC; each HMI polls its share of them.
            if !scada && j % 4 != i - 2 {
                continue;
            }
            let period = if scada {
                rng.range(250_000, 1_000_000)
            } else {
                rng.range(90_000, 450_000)
            };
            let write = if scada { 0.0 } else { 0.03 };
            add(
                rng,
                all,
                master,
                device,
                Kind::Device,
                vec![1],
                period,
                write,
                None,
            );
        }
    }
    // Gateways: polled by both SCADA masters, on the field VLAN.
    for (g, &gw) in gateways().iter().enumerate() {
        let n = 3 + (g % 4) as u8;
        let units: Vec<u8> = (1..=n).map(|u| u + (g as u8) * 10).collect();
        for (m, &master) in masters.iter().take(2).enumerate() {
            let period = rng.range(400_000, 1_000_000);
            let vlan = (g % 2 == 0).then_some(40);
            port += 7;
            let mut p = Poller::new(
                rng,
                port,
                master,
                gw,
                Kind::Gateway,
                units.clone(),
                period,
                0.0,
                vlan,
            );
            if g == 1 && m == 1 {
                // The second SCADA master polls a block of input registers
                // the second gateway's last unit does not have: rejected
                // with "illegal data address" at every cycle, all day.
                let unit = units.last().copied().unwrap_or(1);
                p.missing = Some((
                    unit,
                    Read {
                        function: 4,
                        address: 3000,
                        quantity: 16,
                    },
                ));
            }
            all.push((start + rng.range(0, 200_000), Box::new(p)));
        }
    }
    all.push((
        start + 500_000,
        Box::new(Historian {
            rng: rng.fork(),
            host: historian(),
            devices: devices.clone(),
            tags: rng.next_u64(),
        }),
    ));
}

/// `n` extra long-lived connections from distinct clients, all opened in the
/// first twentieth of the expected capture and never closed, each with three
/// transactions spread over the rest.
pub(crate) fn build_concurrent(
    rng: &mut Rng,
    start: u64,
    expected_us: u64,
    n: u32,
    all: &mut Vec<(u64, Box<dyn Source>)>,
) {
    let devices = devices();
    let open_window = (expected_us / 20).max(1_000);
    for i in 0..n {
        let ip = Ipv4Addr::new(
            10,
            30 + (i / 50_000) as u8,
            ((i / 200) % 250) as u8,
            (i % 200 + 10) as u8,
        );
        let client = net::host(ip, net::OUI_DELL, 128);
        let device = devices
            .get(i as usize % devices.len())
            .copied()
            .unwrap_or_else(|| net::host(Ipv4Addr::new(10, 10, 2, 1), net::OUI_SCHNEIDER, 64));
        let port = 40_000 + (i % 20_000) as u16;
        let period = (expected_us.saturating_sub(open_window) / 3).max(10_000);
        let mut p = Poller::new(
            rng,
            port,
            client,
            device,
            Kind::Device,
            vec![1],
            period,
            0.0,
            None,
        );
        p.cycles_left = Some(3);
        p.max_reads = 1;
        all.push((start + rng.range(0, open_window), Box::new(p)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_adu_with_mbap_length() {
        let mut out = Vec::new();
        let r = Read {
            function: 3,
            address: 100,
            quantity: 10,
        };
        adu(&mut out, 0x1234, 7, &read_request(r));
        assert_eq!(
            out,
            [
                0x12, 0x34, // transaction id
                0x00, 0x00, // protocol id
                0x00, 0x06, // length: unit + 5 PDU bytes
                0x07, // unit id
                0x03, // read holding registers
                0x00, 0x64, // address 100
                0x00, 0x0a, // quantity 10
            ]
        );
    }

    #[test]
    fn read_responses_have_matching_byte_counts() {
        let mut rng = Rng::new(3);
        for (function, quantity, bytes) in
            [(3u8, 125u16, 250usize), (4, 10, 20), (1, 13, 2), (2, 8, 1)]
        {
            let r = Read {
                function,
                address: 0,
                quantity,
            };
            let p = read_response(&mut rng, r);
            assert_eq!(p[0], function);
            assert_eq!(usize::from(p[1]), bytes);
            assert_eq!(p.len(), 2 + bytes);
        }
    }

    #[test]
    fn write_responses_echo_address() {
        let mut rng = Rng::new(9);
        for _ in 0..50 {
            let points = set_points(&mut rng.fork(), 100);
            let point = rng.pick(&points).unwrap_or((6, 100, 1));
            let (req, resp) = write_pair(&mut rng, point);
            assert_eq!(req[0], resp[0]);
            assert_eq!(req[1..3], resp[1..3]);
            if req[0] == 16 {
                assert_eq!(usize::from(req[5]), (req.len() - 6));
            }
        }
    }
}
