//! IT background traffic: TLS-looking sessions on port 443 (hello exchange,
//! change cipher spec, then application-data records carried in full-size
//! 1514-byte frames), HTTP on port 80 with bodies over several segments, and
//! DNS queries over UDP port 53.

use std::net::Ipv4Addr;

use super::net::{self, HostAddr};
use super::tcp::{Dir, Segmenting, TcpConn, MSS};
use super::{Class, Cx, Pdus, Rng, Source};
use crate::synth::{build_udp, FrameSpec};

/// The office clients.
fn clients() -> Vec<HostAddr> {
    (10..=40u8)
        .map(|i| net::host(Ipv4Addr::new(10, 50, 0, i), net::OUI_DELL, 128))
        .collect()
}

/// The router's side for servers outside the plant network.
fn server(last: u8) -> HostAddr {
    let mut h = net::host(Ipv4Addr::new(10, 60, 0, last), net::OUI_CISCO, 62);
    h.mac = [0x00, 0x1a, 0xa1, 0x00, 0x00, 0x01];
    h
}

/// The VLAN of a client (the office VLAN for half of them).
fn vlan_of(client: HostAddr) -> Option<u16> {
    (client.ip.octets()[3] % 3 == 0).then_some(50)
}

fn tls_record(out: &mut Vec<u8>, content: u8, version: u16, body: &[u8]) {
    out.push(content);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// A TLS 1.2 ClientHello offering to resume `session_id`, for `name`.
pub(crate) fn client_hello(rng: &mut Rng, session_id: &[u8; 32], name: &str) -> Vec<u8> {
    let mut b = vec![0x03, 0x03]; // client version TLS 1.2
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    b.extend_from_slice(&random);
    b.push(32);
    b.extend_from_slice(session_id);
    let suites: [u16; 6] = [0xc02f, 0xc030, 0xc02b, 0xc02c, 0x009e, 0x009c];
    b.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&[0x01, 0x00]); // compression: null only
    let mut ext = Vec::new();
    // server_name
    let n = name.as_bytes();
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    ext.push(0); // host_name
    ext.extend_from_slice(&(n.len() as u16).to_be_bytes());
    ext.extend_from_slice(n);
    // supported_groups: secp256r1, x25519
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x1d]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: rsa_pkcs1_sha256, ecdsa_secp256r1_sha256
    ext.extend_from_slice(&[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x01, 0x04, 0x03]);
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend_from_slice(&ext);
    let mut out = Vec::new();
    tls_record(&mut out, 0x16, 0x0301, &handshake_message(0x01, &b));
    out
}

/// ServerHello resuming `session_id`, ChangeCipherSpec and the encrypted
/// Finished.
pub(crate) fn server_hello_resumed(rng: &mut Rng, session_id: &[u8; 32]) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    b.extend_from_slice(&random);
    b.push(32);
    b.extend_from_slice(session_id);
    b.extend_from_slice(&0xc02fu16.to_be_bytes()); // ECDHE-RSA-AES128-GCM-SHA256
    b.push(0); // compression null
    b.extend_from_slice(&[0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00]); // renegotiation_info
    let mut out = Vec::new();
    tls_record(&mut out, 0x16, 0x0303, &handshake_message(0x02, &b));
    change_cipher_and_finished(rng, &mut out);
    out
}

/// ChangeCipherSpec and an encrypted Finished (40 bytes).
pub(crate) fn change_cipher_and_finished(rng: &mut Rng, out: &mut Vec<u8>) {
    tls_record(out, 0x14, 0x0303, &[0x01]);
    let mut fin = [0u8; 40];
    rng.fill(&mut fin);
    tls_record(out, 0x16, 0x0303, &fin);
}

/// Application-data records totalling about `len` bytes of ciphertext.
fn app_data(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + len / 16_000 * 5 + 5);
    let mut left = len.max(30);
    while left > 0 {
        let n = left.min(16_408);
        let at = out.len();
        out.extend_from_slice(&[0x17, 0x03, 0x03]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.resize(at + 5 + n, 0);
        rng.fill(&mut out[at + 5..]);
        left -= n;
    }
    out
}

/// Sends `data` from the server in full segments, the client acknowledging
/// every second one. Returns the time of the last frame.
fn bulk_to_client(conn: &mut TcpConn, cx: &mut Cx, rng: &mut Rng, t: u64, data: &[u8]) -> u64 {
    let mut te = t;
    for chunk in data.chunks(2 * MSS) {
        te = conn.send(cx, rng, Dir::ToClient, te, chunk, &[], Segmenting::BULK);
        te += rng.range(30, 250);
        conn.ack(cx, Dir::ToServer, te);
        te += rng.range(10, 60);
    }
    te
}

/// One TLS session: hellos, a few request/response exchanges, close.
struct TlsSession {
    conn: TcpConn,
    rng: Rng,
    phase: u32,
    exchanges: u32,
}

impl Source for TlsSession {
    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        self.phase += 1;
        let rtt = 3_000;
        if self.phase == 1 {
            let t = self.conn.handshake(cx, now, rtt);
            let mut sid = [0u8; 32];
            self.rng.fill(&mut sid);
            let hello = client_hello(&mut self.rng, &sid, "historian-cloud.example.com");
            let t = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                t + 50,
                &hello,
                &[],
                Segmenting::BULK,
            );
            let sh = server_hello_resumed(&mut self.rng, &sid);
            let t = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToClient,
                t + rtt,
                &sh,
                &[],
                Segmenting::BULK,
            );
            let mut fin = Vec::new();
            change_cipher_and_finished(&mut self.rng, &mut fin);
            let t = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                t + 300,
                &fin,
                &[],
                Segmenting::BULK,
            );
            return Some(t + 500);
        }
        if self.phase <= self.exchanges + 1 {
            let req_len = self.rng.range(80, 900) as usize;
            let req = app_data(&mut self.rng, req_len);
            let t = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                now,
                &req,
                &[],
                Segmenting::BULK,
            );
            let resp_len = self.rng.range(2_000, 18_000) as usize;
            let resp = app_data(&mut self.rng, resp_len);
            let t = bulk_to_client(&mut self.conn, cx, &mut self.rng, t + rtt, &resp);
            return Some(t + self.rng.range(50_000, 2_000_000));
        }
        let mut alert = Vec::new();
        let mut body = [0u8; 26];
        self.rng.fill(&mut body);
        tls_record(&mut alert, 0x15, 0x0303, &body);
        let t = self.conn.send(
            cx,
            &mut self.rng,
            Dir::ToServer,
            now,
            &alert,
            &[],
            Segmenting::BULK,
        );
        self.conn.close(cx, Dir::ToServer, t + 100, rtt);
        None
    }
}

/// One HTTP connection: a few GETs with bodies over several segments.
struct HttpSession {
    conn: TcpConn,
    rng: Rng,
    phase: u32,
    requests: u32,
}

impl Source for HttpSession {
    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        self.phase += 1;
        let rtt = 600;
        if self.phase == 1 {
            return Some(self.conn.handshake(cx, now, rtt) + 100);
        }
        if self.phase <= self.requests + 1 {
            let tag = self.rng.range(1, 400);
            let req = format!(
                "GET /trends/export?tag={tag}&range=1h HTTP/1.1\r\nHost: intranet.plant.local\r\n\
                 User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: text/csv\r\n\
                 Connection: keep-alive\r\n\r\n"
            );
            let t = self.conn.send(
                cx,
                &mut self.rng,
                Dir::ToServer,
                now,
                req.as_bytes(),
                &[],
                Segmenting::BULK,
            );
            let lines = self.rng.range(60, 700);
            let mut body = String::with_capacity(lines as usize * 40);
            for i in 0..lines {
                let v = self.rng.range(0, 100_000);
                body.push_str(&format!(
                    "2026-01-05T06:{:02}:{:02}Z,tag{tag},{}.{:03}\n",
                    i / 60 % 60,
                    i % 60,
                    v / 1000,
                    v % 1000
                ));
            }
            let mut resp = format!(
                "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            resp.extend_from_slice(body.as_bytes());
            let t = bulk_to_client(&mut self.conn, cx, &mut self.rng, t + rtt + 2_000, &resp);
            return Some(t + self.rng.range(100_000, 3_000_000));
        }
        self.conn.close(cx, Dir::ToServer, now, rtt);
        None
    }
}

/// Spawns TLS and HTTP sessions and sends DNS queries.
struct Office {
    rng: Rng,
    clients: Vec<HostAddr>,
    next_tls: u64,
    next_http: u64,
    next_dns: u64,
    dns_id: u16,
}

const NAMES: [&str; 6] = [
    "historian-cloud.example.com",
    "intranet.plant.local",
    "updates.example.com",
    "mail.plant.local",
    "wsus.plant.local",
    "time.example.com",
];

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

impl Office {
    fn dns(&mut self, cx: &mut Cx, t: u64) {
        let Some(client) = self.rng.pick(&self.clients) else {
            return;
        };
        let resolver = server(53);
        let port = cx.ephemeral_port(client.ip, &mut self.rng);
        let name = self.rng.pick(&NAMES).unwrap_or("intranet.plant.local");
        self.dns_id = self.dns_id.wrapping_add(self.rng.range(1, 999) as u16);
        let mut q = Vec::new();
        q.extend_from_slice(&self.dns_id.to_be_bytes());
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; 1 question
        dns_name(&mut q, name);
        q.extend_from_slice(&[0, 1, 0, 1]); // A, IN
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80; // response, RD, RA, no error
        r[7] = 1; // one answer
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]); // name pointer, A, IN
        r.extend_from_slice(&300u32.to_be_bytes()); // TTL
        r.extend_from_slice(&[0, 4, 10, 60, 0, self.rng.range(10, 200) as u8]);
        let vlan = vlan_of(client);
        cx.count_flow();
        for (from, to, sport, dport, payload, ts) in [
            (client, resolver, port, 53, &q, t),
            (
                resolver,
                client,
                53,
                port,
                &r,
                t + self.rng.range(300, 4_000),
            ),
        ] {
            let spec = FrameSpec {
                src_mac: from.mac,
                dst_mac: to.mac,
                vlan,
                src_ip: from.ip,
                dst_ip: to.ip,
                ip_id: self.rng.next_u64() as u16,
                ttl: from.ttl,
            };
            let mut buf = cx.buffer();
            build_udp(&mut buf, &spec, sport, dport, payload);
            cx.push(ts, buf, Class::Dns, vlan.is_some(), Pdus::default());
        }
    }
}

impl Source for Office {
    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        if now >= self.next_dns {
            self.dns(cx, now);
            self.next_dns = now + self.rng.range(10_000, 80_000);
        }
        if now >= self.next_tls {
            let client = self.rng.pick(&self.clients)?;
            let port = cx.ephemeral_port(client.ip, &mut self.rng);
            let mut rng = self.rng.fork();
            let conn = TcpConn::new(
                &mut rng,
                client,
                port,
                server(20),
                443,
                vlan_of(client),
                Class::Tls,
            );
            let exchanges = rng.range(1, 4) as u32;
            cx.spawn(
                now,
                Box::new(TlsSession {
                    conn,
                    rng,
                    phase: 0,
                    exchanges,
                }),
            );
            self.next_tls = now + self.rng.range(40_000, 340_000);
        }
        if now >= self.next_http {
            let client = self.rng.pick(&self.clients)?;
            let port = cx.ephemeral_port(client.ip, &mut self.rng);
            let mut rng = self.rng.fork();
            let conn = TcpConn::new(
                &mut rng,
                client,
                port,
                server(10),
                80,
                vlan_of(client),
                Class::Http,
            );
            let requests = rng.range(1, 3) as u32;
            cx.spawn(
                now,
                Box::new(HttpSession {
                    conn,
                    rng,
                    phase: 0,
                    requests,
                }),
            );
            self.next_http = now + self.rng.range(300_000, 1_500_000);
        }
        Some(self.next_dns.min(self.next_tls).min(self.next_http))
    }
}

/// The IT sources of the plant.
pub(crate) fn build(rng: &mut Rng, start: u64, all: &mut Vec<(u64, Box<dyn Source>)>) {
    let office = Office {
        rng: rng.fork(),
        clients: clients(),
        next_tls: start + 10_000,
        next_http: start + 20_000,
        next_dns: start,
        dns_id: 0x4a21,
    };
    all.push((start, Box::new(office)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_lengths_are_consistent() {
        let mut rng = Rng::new(4);
        let hello = client_hello(&mut rng, &[7; 32], "a.example");
        assert_eq!(hello[0], 0x16); // handshake record
        let record = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        assert_eq!(record + 5, hello.len());
        assert_eq!(hello[5], 0x01); // ClientHello
        let msg = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(msg + 4, record);
    }

    #[test]
    fn app_data_records_cover_the_length() {
        let mut rng = Rng::new(4);
        let d = app_data(&mut rng, 40_000);
        let mut at = 0;
        let mut total = 0;
        while at < d.len() {
            assert_eq!(&d[at..at + 3], &[0x17, 0x03, 0x03]);
            let n = usize::from(u16::from_be_bytes([d[at + 3], d[at + 4]]));
            assert!(n <= 16_408);
            total += n;
            at += 5 + n;
        }
        assert_eq!(at, d.len());
        assert_eq!(total, 40_000);
    }
}
