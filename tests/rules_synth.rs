//! The synthesized captures of the rule tests (`pcaps/synth_*.pcap`), for
//! what the real peers cannot produce: python-snap7's server refuses block
//! downloads, dnp3py has no file transfer, configuration functions,
//! broadcasts or Secure Authentication, no stack sends garbage on port
//! 502 or bad CRCs on purpose, and none forges evasion traffic (bad
//! checksums, segments outside the window, changed retransmissions,
//! overlapping fragments).
//!
//! The frames are built with `otwatch_sensor::synth` (Ethernet/IPv4/TCP)
//! and protocol bytes written field by field below. The test checks that the
//! files in `pcaps/` are exactly what this code builds; run with
//! `OTWATCH_WRITE_SYNTH=1` to (re)write them.

use std::net::Ipv4Addr;
use std::path::Path;

use otwatch_proto::dnp3::link::crc;
use otwatch_sensor::synth::{
    fill_checksums, flags, tcp_frame, udp_frame, Conversation, Host, PcapWriter,
};

const T0: u32 = 1_796_000_000; // 2026-11-30

fn host(last: u8, port: u16) -> Host {
    Host {
        mac: [2, 0, 10, 200, 7, last],
        ip: Ipv4Addr::new(10, 200, 7, last),
        port,
    }
}

/// A capture being written: one conversation at a time, frames 10 ms apart.
struct Capture {
    pcap: PcapWriter,
    micros: u64,
}

impl Capture {
    fn new() -> Capture {
        Capture::starting(0)
    }

    /// A capture whose first frame is `micros` after [`T0`].
    fn starting(micros: u64) -> Capture {
        Capture {
            pcap: PcapWriter::new(1),
            micros,
        }
    }

    fn push(&mut self, frame: &[u8]) {
        self.micros += 10_000;
        let secs = T0 + (self.micros / 1_000_000) as u32;
        self.pcap
            .record(secs, (self.micros % 1_000_000) as u32, frame);
    }

    /// Lets `micros` pass before the next frame.
    fn pause(&mut self, micros: u64) {
        self.micros += micros;
    }

    fn open(&mut self, c: &mut Conversation) {
        for f in c.handshake() {
            self.push(&f);
        }
    }

    fn send_to_server(&mut self, c: &mut Conversation, payload: &[u8]) {
        let f = c.to_server(payload);
        self.push(&f);
    }

    fn send_to_client(&mut self, c: &mut Conversation, payload: &[u8]) {
        let f = c.to_client(payload);
        self.push(&f);
    }

    fn close(&mut self, c: &mut Conversation) {
        let [fin, fin_ack, _] = c.close();
        self.push(&fin);
        self.push(&fin_ack);
    }
}

fn mbap(tid: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&[0, 0]); // protocol id
    v.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
    v.push(unit);
    v.extend_from_slice(pdu);
    v
}

/// Non-Modbus bytes on port 502, and two PDUs whose length does not fit
/// their function.
fn modbus_malformed() -> Vec<u8> {
    let mut cap = Capture::new();
    let mut c = Conversation::new(host(40, 40_001), host(10, 502));
    cap.open(&mut c);
    cap.send_to_server(&mut c, b"GET / HTTP/1.0\r\nHost: plc\r\n\r\n");
    cap.close(&mut c);
    let mut c = Conversation::new(host(40, 40_002), host(10, 502));
    cap.open(&mut c);
    // Read holding registers 0, count 1, with two trailing bytes.
    cap.send_to_server(
        &mut c,
        &mbap(1, 1, &[0x03, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff]),
    );
    cap.send_to_client(&mut c, &mbap(1, 1, &[0x83, 0x03]));
    // Write multiple registers at 0, quantity 2, byte count 3 (must be 4).
    cap.send_to_server(
        &mut c,
        &mbap(
            2,
            1,
            &[0x10, 0x00, 0x00, 0x00, 0x02, 0x03, 0x00, 0x01, 0x00, 0x02],
        ),
    );
    cap.send_to_client(&mut c, &mbap(2, 1, &[0x90, 0x03]));
    cap.close(&mut c);
    cap.pcap.into_bytes()
}

fn tpkt_dt(s7: &[u8]) -> Vec<u8> {
    let mut v = vec![0x03, 0x00];
    v.extend_from_slice(&((4 + 3 + s7.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0x02, 0xf0, 0x80]); // COTP DT, last unit
    v.extend_from_slice(s7);
    v
}

/// An S7 PDU of type `rosctr` in TPKT/COTP; an ack-data (3) carries the
/// error class and code 0 after its header.
fn s7_pdu(rosctr: u8, pdu_ref: u16, param: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x32, rosctr, 0x00, 0x00];
    v.extend_from_slice(&pdu_ref.to_be_bytes());
    v.extend_from_slice(&(param.len() as u16).to_be_bytes());
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    if rosctr == 3 {
        v.extend_from_slice(&[0x00, 0x00]); // no error
    }
    v.extend_from_slice(param);
    v.extend_from_slice(data);
    tpkt_dt(&v)
}

fn s7_job(pdu_ref: u16, param: &[u8], data: &[u8]) -> Vec<u8> {
    s7_pdu(1, pdu_ref, param, data)
}

fn s7_ack_data(pdu_ref: u16, param: &[u8], data: &[u8]) -> Vec<u8> {
    s7_pdu(3, pdu_ref, param, data)
}

/// A userdata PDU (ROSCTR 7).
fn s7_userdata(pdu_ref: u16, param: &[u8], data: &[u8]) -> Vec<u8> {
    s7_pdu(7, pdu_ref, param, data)
}

/// Block control parameters: function, status 0, 0x0100, upload id 0,
/// then the file name `_0A00003P` (DB 3, passive file system).
fn block_param(function: u8) -> Vec<u8> {
    let mut p = vec![function, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09];
    p.extend_from_slice(b"_0A00003P");
    p
}

fn pi_service(parameter: &[u8], service: &[u8]) -> Vec<u8> {
    let mut p = vec![0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd];
    p.extend_from_slice(&(parameter.len() as u16).to_be_bytes());
    p.extend_from_slice(parameter);
    p.push(service.len() as u8);
    p.extend_from_slice(service);
    p
}

/// COTP connection request (`code` 0xe0) or confirm (0xd0), calling TSAP
/// 0x0100, called TSAP 0x0102 (rack 0, slot 2).
fn cotp(code: u8) -> Vec<u8> {
    let mut v = vec![
        0x03, 0x00, 0x00, 0x16, 0x11, code, 0x00, 0x00, 0x00, 0x01, 0x00,
    ];
    v.extend_from_slice(&[
        0xc0, 0x01, 0x0a, 0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02, 0x01, 0x02,
    ]);
    v
}

/// A DB download from an engineering station, then _INSE and a hot start.
fn s7comm_download() -> Vec<u8> {
    let mut cap = Capture::new();
    let mut c = Conversation::new(host(50, 40_010), host(10, 102));
    cap.open(&mut c);
    cap.send_to_server(&mut c, &cotp(0xe0));
    cap.send_to_client(&mut c, &cotp(0xd0));
    let setup = [0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0];
    cap.send_to_server(&mut c, &s7_job(1, &setup, &[]));
    cap.send_to_client(&mut c, &s7_ack_data(1, &setup, &[]));
    // Request download of DB3: load memory length 000050, MC7 length 000020.
    let mut p = block_param(0x1a);
    p.push(0x0d);
    p.extend_from_slice(b"1000050000020");
    cap.send_to_server(&mut c, &s7_job(2, &p, &[]));
    cap.send_to_client(&mut c, &s7_ack_data(2, &[0x1a], &[]));
    // The PLC pulls the block (download block job from the PLC) …
    cap.send_to_client(&mut c, &s7_job(3, &block_param(0x1b), &[]));
    cap.send_to_server(
        &mut c,
        &s7_ack_data(
            3,
            &[0x1b, 0x00],
            &[0x00, 0x04, 0x00, 0xfb, 0xde, 0xad, 0xbe, 0xef],
        ),
    );
    // … and ends the download.
    cap.send_to_client(&mut c, &s7_job(4, &block_param(0x1c), &[]));
    cap.send_to_server(&mut c, &s7_ack_data(4, &[0x1c], &[]));
    // Insert DB3 into the running program, then a hot start.
    let mut blocks = vec![0x01, 0x00];
    blocks.extend_from_slice(b"0A00003P");
    cap.send_to_server(&mut c, &s7_job(5, &pi_service(&blocks, b"_INSE"), &[]));
    cap.send_to_client(&mut c, &s7_ack_data(5, &[0x28, 0x00], &[]));
    cap.send_to_server(&mut c, &s7_job(6, &pi_service(&[], b"P_PROGRAM"), &[]));
    cap.send_to_client(&mut c, &s7_ack_data(6, &[0x28, 0x00], &[]));
    cap.close(&mut c);
    cap.pcap.into_bytes()
}

/// A DNP3 link frame with CRCs; `corrupt` spoils the first data CRC.
fn link_frame(control: u8, dst: u16, src: u16, user: &[u8], corrupt: bool) -> Vec<u8> {
    let mut head = vec![0x05, 0x64, (5 + user.len()) as u8, control];
    head.extend_from_slice(&dst.to_le_bytes());
    head.extend_from_slice(&src.to_le_bytes());
    let mut v = head.clone();
    v.extend_from_slice(&crc(&head).to_le_bytes());
    for (i, block) in user.chunks(16).enumerate() {
        v.extend_from_slice(block);
        let mut c = crc(block);
        if corrupt && i == 0 {
            c ^= 0x5555;
        }
        v.extend_from_slice(&c.to_le_bytes());
    }
    v
}

const MASTER: u16 = 2;
const OUTSTATION: u16 = 1;

fn dnp3_request(seq: u8, function: u8, objects: &[u8], dst: u16) -> Vec<u8> {
    let mut user = vec![0xc0 | (seq & 0x3f), 0xc0 | (seq & 0x0f), function];
    user.extend_from_slice(objects);
    link_frame(0xc4, dst, MASTER, &user, false)
}

fn dnp3_response(seq: u8, function: u8, control: u8, objects: &[u8]) -> Vec<u8> {
    let mut user = vec![
        0xc0 | (seq & 0x3f),
        control | (seq & 0x0f),
        function,
        0x00,
        0x00,
    ];
    user.extend_from_slice(objects);
    link_frame(0x44, MASTER, OUTSTATION, &user, false)
}

/// File operations, configuration functions, a broadcast, an unsolicited
/// storm, a Secure Authentication error and a burst of bad CRCs.
fn dnp3_misc() -> Vec<u8> {
    let mut cap = Capture::new();
    let mut c = Conversation::new(host(20, 40_020), host(10, 20_000));
    cap.open(&mut c);
    let mut seq = 0u8;
    for function in [25u8, 27, 30, 19, 31] {
        // open file, delete file, abort file, save configuration, activate configuration
        seq += 1;
        cap.send_to_server(&mut c, &dnp3_request(seq, function, &[], OUTSTATION));
        cap.send_to_client(&mut c, &dnp3_response(seq, 129, 0xc0, &[]));
    }
    // A read to the broadcast address 0xffff (nobody answers).
    seq += 1;
    cap.send_to_server(&mut c, &dnp3_request(seq, 1, &[0x3c, 0x01, 0x06], 0xffff));
    // 25 unsolicited responses in a quarter of a second.
    for i in 0..25u8 {
        cap.send_to_client(&mut c, &dnp3_response(i, 130, 0xf0, &[]));
    }
    // A read answered by an authentication error (g120v7): challenge
    // sequence 1, user 1, association 0, error 1 (authentication failed),
    // time 0, no text.
    seq += 1;
    cap.send_to_server(
        &mut c,
        &dnp3_request(seq, 1, &[0x3c, 0x01, 0x06], OUTSTATION),
    );
    let mut obj = vec![120, 7, 0x5b, 0x01, 15, 0x00];
    obj.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    cap.send_to_client(&mut c, &dnp3_response(seq, 131, 0xc0, &obj));
    // Six frames whose data CRC is wrong.
    for i in 0..6u8 {
        let user = [0xc0 | i, 0xc0 | i, 0x01, 0x3c, 0x01, 0x06];
        cap.send_to_server(&mut c, &link_frame(0xc4, OUTSTATION, MASTER, &user, true));
    }
    cap.close(&mut c);
    cap.pcap.into_bytes()
}

/// Splits the IP payload of an Ethernet/IPv4 frame into two fragments at
/// `cut` (a multiple of 8), identification `id`; header checksums filled.
fn two_fragments(frame: &[u8], id: u16, cut: usize) -> [Vec<u8>; 2] {
    let ip = &frame[14..];
    let payload = &ip[20..];
    let part = |start: usize, end: usize| {
        let mut f = frame[..14].to_vec();
        let mut h = ip[..20].to_vec();
        h[2..4].copy_from_slice(&((20 + end - start) as u16).to_be_bytes()); // total length
        h[4..6].copy_from_slice(&id.to_be_bytes()); // identification
        let more = if end < payload.len() { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&(more | (start / 8) as u16).to_be_bytes()); // MF, offset
        f.extend_from_slice(&h);
        f.extend_from_slice(&payload[start..end]);
        fill_checksums(&mut f);
        f
    };
    [part(0, cut), part(cut, payload.len())]
}

/// Evasion attempts against the sensor, each on its own connection from its
/// own client, every other frame with correct checksums (as on a SPAN port):
/// a benign copy of "force listen only" with a wrong TCP checksum before the
/// real one; a copy of a read with a wrong IPv4 header checksum; 12 bytes at
/// sequence + 1,000,000 between two reads; a read retransmitted as a write; a read in two IPv4
/// fragments whose second overlaps the first with another transaction id; a
/// forged SYN 1,000,000 bytes ahead of an established stream; nine forged
/// server acknowledgements walking the window 1 MB ahead between two real
/// exchanges, the second's acknowledgement then lying far behind.
fn evasion() -> Vec<u8> {
    let mut cap = Capture::new();
    let checked = |cap: &mut Capture, mut f: Vec<u8>| {
        fill_checksums(&mut f);
        cap.push(&f);
    };
    let open = |cap: &mut Capture, c: &mut Conversation| {
        for f in c.handshake() {
            checked(cap, f);
        }
    };
    let close = |cap: &mut Capture, c: &mut Conversation| {
        let [fin, fin_ack, _] = c.close();
        checked(cap, fin);
        checked(cap, fin_ack);
    };
    let copy = |c: &Conversation, seq_offset: u32, payload: &[u8]| {
        let mut f = tcp_frame(
            &c.client,
            &c.server,
            c.client_seq.wrapping_add(seq_offset),
            c.server_seq,
            flags::PSH | flags::ACK,
            payload,
        );
        fill_checksums(&mut f);
        f
    };
    let read = |tid: u16| mbap(tid, 1, &[0x03, 0x00, 0x00, 0x00, 0x01]);
    let answer = |tid: u16| mbap(tid, 1, &[0x03, 0x02, 0x00, 0x2a]);

    // 1. A wrong TCP checksum on a benign copy (diagnostics, return query data).
    let mut c = Conversation::new(host(41, 40_041), host(10, 502));
    open(&mut cap, &mut c);
    let listen_only = mbap(9, 1, &[0x08, 0x00, 0x04, 0x00, 0x00]);
    let mut bad = copy(&c, 0, &mbap(9, 1, &[0x08, 0x00, 0x00, 0x00, 0x00]));
    bad[14 + 20 + 16] ^= 0x5a; // TCP checksum
    cap.push(&bad);
    let f = c.to_server(&listen_only);
    checked(&mut cap, f);
    let ack = tcp_frame(
        &c.server,
        &c.client,
        c.server_seq,
        c.client_seq,
        flags::ACK,
        &[],
    );
    checked(&mut cap, ack);
    close(&mut cap, &mut c);

    // 2. A wrong IPv4 header checksum on a copy of a read.
    let mut c = Conversation::new(host(42, 40_042), host(10, 502));
    open(&mut cap, &mut c);
    let mut bad = copy(&c, 0, &read(1));
    bad[14 + 10] ^= 0x01; // IPv4 header checksum
    cap.push(&bad);
    let f = c.to_server(&read(1));
    checked(&mut cap, f);
    let f = c.to_client(&answer(1));
    checked(&mut cap, f);
    close(&mut cap, &mut c);

    // 3. Twelve bytes far outside the server's window (64,240 bytes)
    //    between two reads.
    let mut c = Conversation::new(host(43, 40_043), host(10, 502));
    open(&mut cap, &mut c);
    let f = c.to_server(&read(2));
    checked(&mut cap, f);
    let f = c.to_client(&answer(2));
    checked(&mut cap, f);
    let far = copy(&c, 1_000_000, &read(7));
    cap.push(&far);
    let f = c.to_server(&read(6));
    checked(&mut cap, f);
    let f = c.to_client(&answer(6));
    checked(&mut cap, f);
    close(&mut cap, &mut c);

    // 4. A read retransmitted as a write to the same sequence numbers.
    let mut c = Conversation::new(host(44, 40_044), host(10, 502));
    open(&mut cap, &mut c);
    let write = mbap(3, 1, &[0x06, 0x00, 0x00, 0x00, 0x2a]);
    let changed = copy(&c, 0, &write);
    let f = c.to_server(&read(3));
    checked(&mut cap, f);
    cap.push(&changed);
    let f = c.to_client(&answer(3));
    checked(&mut cap, f);
    close(&mut cap, &mut c);

    // 5. A read in two fragments; the second starts 8 bytes early and
    //    carries another transaction id there.
    let mut c = Conversation::new(host(45, 40_045), host(10, 502));
    open(&mut cap, &mut c);
    let mut whole = c.to_server(&read(4));
    fill_checksums(&mut whole);
    let mut other = whole.clone();
    other[14 + 20 + 20 + 1] = 5; // transaction id 4 -> 5, inside the overlap
    let [first, _] = two_fragments(&whole, 0x4545, 24);
    let [_, overlapping] = two_fragments(&other, 0x4545, 16);
    cap.push(&first);
    cap.push(&overlapping);
    let f = c.to_client(&answer(4));
    checked(&mut cap, f);
    close(&mut cap, &mut c);

    // 6. A bare SYN at the client's sequence + 1,000,000 on the established
    //    stream, between two reads (the PLC ignores it; so does the sensor).
    let mut c = Conversation::new(host(46, 40_046), host(10, 502));
    open(&mut cap, &mut c);
    let f = c.to_server(&read(8));
    checked(&mut cap, f);
    let f = c.to_client(&answer(8));
    checked(&mut cap, f);
    let syn = tcp_frame(
        &c.client,
        &c.server,
        c.client_seq.wrapping_add(1_000_000),
        0,
        flags::SYN,
        &[],
    );
    checked(&mut cap, syn);
    let f = c.to_server(&read(9));
    checked(&mut cap, f);
    let f = c.to_client(&answer(9));
    checked(&mut cap, f);
    close(&mut cap, &mut c);

    // 7. A read and its answer; then nine forged acknowledgements from the
    //    server's address, each within the window of the last (110,000
    //    bytes apart); then the real read (now outside the believed window)
    //    and its answer, which acknowledges the real bytes: far behind.
    let mut c = Conversation::new(host(47, 40_047), host(10, 502));
    open(&mut cap, &mut c);
    let f = c.to_server(&read(10));
    checked(&mut cap, f);
    let f = c.to_client(&answer(10));
    checked(&mut cap, f);
    for step in 1..=9u32 {
        let forged = tcp_frame(
            &c.server,
            &c.client,
            c.server_seq,
            c.client_seq.wrapping_add(step * 110_000),
            flags::ACK,
            &[],
        );
        checked(&mut cap, forged);
    }
    let f = c.to_server(&read(11));
    checked(&mut cap, f);
    let f = c.to_client(&answer(11));
    checked(&mut cap, f);
    close(&mut cap, &mut c);
    cap.pcap.into_bytes()
}

/// A device identity answer to 43/14 (basic, code 1): conformity 0x01,
/// no more follows, next object 0, three objects (vendor, product code,
/// revision).
fn device_id_basic() -> Vec<u8> {
    let mut r = vec![0x2b, 0x0e, 0x01, 0x01, 0x00, 0x00, 0x03];
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

/// One Modbus request on a connection of its own from `src` to `dst`,
/// with its answer if there is one.
fn modbus_once(cap: &mut Capture, src: Host, dst: Host, pdu: &[u8], answer: Option<&[u8]>) {
    let mut c = Conversation::new(src, dst);
    cap.open(&mut c);
    cap.send_to_server(&mut c, &mbap(1, 1, pdu));
    if let Some(a) = answer {
        cap.send_to_client(&mut c, &mbap(1, 1, a));
    }
    cap.close(&mut c);
}

/// A read-SZL request for `id` index 0, and its answer with one 28-byte
/// module identification record (index 1, order number, version).
fn szl_read(seq: u8, id: u16) -> (Vec<u8>, Vec<u8>) {
    let param = [
        0x00, 0x01, 0x12, // parameter head
        0x04, // parameter length
        0x11, // method: request
        0x44, // type 4 (request), group 4 (CPU functions)
        0x01, // subfunction: read SZL
        seq,
    ];
    let mut data = vec![0xff, 0x09, 0x00, 0x04]; // return code, octet string, 4 bytes
    data.extend_from_slice(&id.to_be_bytes());
    data.extend_from_slice(&[0x00, 0x00]); // index
    let request = s7_userdata(u16::from(seq), &param, &data);
    let param = [
        0x00, 0x01, 0x12, // parameter head
        0x08, // parameter length
        0x12, // method: response
        0x84, // type 8 (response), group 4 (CPU functions)
        0x01, // subfunction: read SZL
        seq, 0x00, // data unit reference
        0x00, // last data unit
        0x00, 0x00, // error code
    ];
    let mut record = vec![0x00, 0x01]; // index 1: the module
    record.extend_from_slice(b"6ES7 315-2EH14-0AB0 "); // order number, 20 bytes
    record.extend_from_slice(&[0x00, 0xc0, 0x00, 0x04, 0x00, 0x01]); // type, version 4.1
    let mut data = vec![0xff, 0x09];
    data.extend_from_slice(&((8 + record.len()) as u16).to_be_bytes());
    data.extend_from_slice(&id.to_be_bytes());
    data.extend_from_slice(&[0x00, 0x00]); // index
    data.extend_from_slice(&(record.len() as u16).to_be_bytes()); // record length
    data.extend_from_slice(&[0x00, 0x01]); // one record
    data.extend_from_slice(&record);
    (request, s7_userdata(u16::from(seq), &param, &data))
}

/// A DNP3 response from outstation `src` whose IIN2 byte is `iin2`.
fn dnp3_response_iin(seq: u8, src: u16, iin2: u8) -> Vec<u8> {
    let user = [0xc0 | (seq & 0x3f), 0xc0 | (seq & 0x0f), 129, 0x00, iin2];
    link_frame(0x44, MASTER, src, &user, false)
}

/// Scans and sweeps, each from a host of its own, and beside them a
/// misconfigured poller that must raise nothing:
/// 1. the basic device identity (43/14 code 1) of four Modbus devices;
/// 2. report server id (17) of three devices;
/// 3. twenty unassigned function codes, each rejected (exception 1);
/// 4. eight unassigned function codes to a device that answers none;
/// 5. unit ids 1 to 60 on one gateway, unanswered;
/// 6. a poller asking for a block the device lacks and for function 20,
///    both rejected, once a second for a minute, beside a good read;
/// 7. sixteen single registers rejected (exception 2): an address sweep;
/// 8. SZL 0x0011 (module identification) of three S7 PLCs;
/// 9. one DNP3 frame with a bad data CRC between good ones;
/// 10. DNP3 device attributes (group 0) of three outstations;
/// 11. DNP3 link addresses 1 to 40 on one server, unanswered;
/// 12. five DNP3 functions refused with IIN2.0 (function code not supported);
/// 13. fifteen reads answered "server device busy" (exception 6);
/// 14. EtherNet/IP ListIdentity over UDP to six addresses, five answering.
fn recon() -> Vec<u8> {
    // A day after the other synthesized captures: this one lasts over a
    // minute, longer than idle timeouts, and captures replayed together
    // as one stream (the bundled-capture tests) should not go back in time
    // across it.
    let mut cap = Capture::starting(86_400_000_000);
    for dst in 11..=14 {
        let devid = device_id_basic();
        modbus_once(
            &mut cap,
            host(60, 41_000 + u16::from(dst)),
            host(dst, 502),
            &[0x2b, 0x0e, 0x01, 0x00],
            Some(&devid),
        );
    }
    for dst in 11..=13 {
        // Byte count 4: server id 0x2a, run indicator on, two bytes "OK".
        let answer = [0x11, 0x04, 0x2a, 0xff, b'O', b'K'];
        modbus_once(
            &mut cap,
            host(61, 41_100 + u16::from(dst)),
            host(dst, 502),
            &[0x11],
            Some(&answer),
        );
    }
    let mut c = Conversation::new(host(62, 41_200), host(15, 502));
    cap.open(&mut c);
    for (i, fc) in (25u8..=42).chain([44, 45]).enumerate() {
        let tid = i as u16 + 1;
        cap.send_to_server(&mut c, &mbap(tid, 1, &[fc, 0x00, 0x00, 0x00, 0x01]));
        cap.send_to_client(&mut c, &mbap(tid, 1, &[fc | 0x80, 0x01]));
    }
    cap.close(&mut c);
    let mut c = Conversation::new(host(63, 41_300), host(16, 502));
    cap.open(&mut c);
    for (i, fc) in [9u8, 10, 13, 14, 18, 19, 25, 26].into_iter().enumerate() {
        cap.send_to_server(
            &mut c,
            &mbap(i as u16 + 1, 1, &[fc, 0x00, 0x00, 0x00, 0x01]),
        );
    }
    cap.close(&mut c);
    let mut c = Conversation::new(host(64, 41_400), host(17, 502));
    cap.open(&mut c);
    for unit in 1..=60u8 {
        // Read holding register 0, count 1.
        cap.send_to_server(
            &mut c,
            &mbap(u16::from(unit), unit, &[0x03, 0x00, 0x00, 0x00, 0x01]),
        );
    }
    cap.close(&mut c);
    let mut c = Conversation::new(host(65, 41_500), host(18, 502));
    cap.open(&mut c);
    for poll in 0..60u16 {
        let tid = poll * 3;
        // Read holding registers 0..9: answered with ten registers.
        cap.send_to_server(&mut c, &mbap(tid, 1, &[0x03, 0x00, 0x00, 0x00, 0x0a]));
        let mut answer = vec![0x03, 20];
        answer.extend_from_slice(&[0u8; 20]);
        cap.send_to_client(&mut c, &mbap(tid, 1, &answer));
        // Read input registers 3000..3015, which the device lacks.
        cap.send_to_server(&mut c, &mbap(tid + 1, 1, &[0x04, 0x0b, 0xb8, 0x00, 0x10]));
        cap.send_to_client(&mut c, &mbap(tid + 1, 1, &[0x84, 0x02]));
        // Read file record (20), which it does not implement: file 4,
        // record 1, length 2.
        let file = [0x14, 0x07, 0x06, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02];
        cap.send_to_server(&mut c, &mbap(tid + 2, 1, &file));
        cap.send_to_client(&mut c, &mbap(tid + 2, 1, &[0x94, 0x01]));
        cap.pause(1_000_000);
    }
    cap.close(&mut c);
    let mut c = Conversation::new(host(66, 41_600), host(19, 502));
    cap.open(&mut c);
    for i in 0..16u16 {
        let [a, b] = (1000 + i * 100).to_be_bytes();
        cap.send_to_server(&mut c, &mbap(i + 1, 1, &[0x03, a, b, 0x00, 0x01]));
        cap.send_to_client(&mut c, &mbap(i + 1, 1, &[0x83, 0x02]));
    }
    cap.close(&mut c);
    for dst in 30..=32u8 {
        let mut c = Conversation::new(host(67, 41_700 + u16::from(dst)), host(dst, 102));
        cap.open(&mut c);
        cap.send_to_server(&mut c, &cotp(0xe0));
        cap.send_to_client(&mut c, &cotp(0xd0));
        let setup = [0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0];
        cap.send_to_server(&mut c, &s7_job(1, &setup, &[]));
        cap.send_to_client(&mut c, &s7_ack_data(1, &setup, &[]));
        let (request, answer) = szl_read(2, 0x0011);
        cap.send_to_server(&mut c, &request);
        cap.send_to_client(&mut c, &answer);
        cap.close(&mut c);
    }
    let mut c = Conversation::new(host(68, 41_800), host(40, 20_000));
    cap.open(&mut c);
    // Class 0 reads (g60v1, all objects), the second with a spoiled CRC.
    cap.send_to_server(&mut c, &dnp3_request(1, 1, &[0x3c, 0x01, 0x06], OUTSTATION));
    cap.send_to_client(&mut c, &dnp3_response(1, 129, 0xc0, &[]));
    let user = [0xc2, 0xc2, 0x01, 0x3c, 0x01, 0x06];
    cap.send_to_server(&mut c, &link_frame(0xc4, OUTSTATION, MASTER, &user, true));
    cap.send_to_server(&mut c, &dnp3_request(3, 1, &[0x3c, 0x01, 0x06], OUTSTATION));
    cap.send_to_client(&mut c, &dnp3_response(3, 129, 0xc0, &[]));
    cap.close(&mut c);
    for dst in 41..=43u8 {
        let mut c = Conversation::new(host(69, 41_900 + u16::from(dst)), host(dst, 20_000));
        cap.open(&mut c);
        // Read g0v254 (all device attributes), qualifier 0x06.
        cap.send_to_server(&mut c, &dnp3_request(1, 1, &[0x00, 0xfe, 0x06], OUTSTATION));
        cap.send_to_client(&mut c, &dnp3_response(1, 129, 0xc0, &[]));
        cap.close(&mut c);
    }
    let mut c = Conversation::new(host(70, 42_000), host(44, 20_000));
    cap.open(&mut c);
    for addr in 1..=40u16 {
        cap.send_to_server(
            &mut c,
            &dnp3_request(addr as u8, 1, &[0x3c, 0x01, 0x06], addr),
        );
    }
    cap.close(&mut c);
    let mut c = Conversation::new(host(71, 42_100), host(45, 20_000));
    cap.open(&mut c);
    // Immediate freeze and freeze-and-clear of all counters (g20v0,
    // qualifier 0x06), assign class 2 (g60v3, qualifier 0x06), delay
    // measurement, record current time: each refused with IIN2.0.
    let requests: [(u8, &[u8]); 5] = [
        (7, &[20, 0, 0x06]),
        (9, &[20, 0, 0x06]),
        (22, &[60, 3, 0x06]),
        (23, &[]),
        (24, &[]),
    ];
    for (seq, (function, objects)) in requests.into_iter().enumerate() {
        let seq = seq as u8 + 1;
        cap.send_to_server(&mut c, &dnp3_request(seq, function, objects, OUTSTATION));
        cap.send_to_client(&mut c, &dnp3_response_iin(seq, OUTSTATION, 0x01));
    }
    cap.close(&mut c);
    let mut c = Conversation::new(host(72, 42_200), host(46, 502));
    cap.open(&mut c);
    // Fifteen reads in a third of a second, each answered "server device
    // busy" (exception 6).
    for tid in 1..=15u16 {
        cap.send_to_server(&mut c, &mbap(tid, 1, &[0x03, 0x00, 0x00, 0x00, 0x0a]));
        cap.send_to_client(&mut c, &mbap(tid, 1, &[0x83, 0x06]));
    }
    cap.close(&mut c);
    enip_sweep(&mut cap);
    cap.pcap.into_bytes()
}

// ---- EtherNet/IP (port 44818): the encapsulation header, then CIP in
// Common Packet Format items, every field little-endian.

/// An encapsulation message: command, length, session handle, status,
/// sender context, options 0, then the data.
fn encap(command: u16, session: u32, status: u32, context: u64, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&command.to_le_bytes());
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(&session.to_le_bytes());
    v.extend_from_slice(&status.to_le_bytes());
    v.extend_from_slice(&context.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes()); // options
    v.extend_from_slice(data);
    v
}

/// SendRRData data: interface handle 0 (CIP), timeout 10 s, two items:
/// the null address (0x0000) and the unconnected data (0x00B2) holding
/// `cip`.
fn send_rr_data(session: u32, context: u64, cip: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0x00];
    d.extend_from_slice(&(cip.len() as u16).to_le_bytes());
    d.extend_from_slice(cip);
    encap(0x006f, session, 0, context, &d)
}

/// A CIP request: service, path size in words, the padded path, data.
fn cip_request(service: u8, path: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = vec![service, (path.len() / 2) as u8];
    v.extend_from_slice(path);
    v.extend_from_slice(data);
    v
}

/// A CIP reply: the service with the reply bit, a reserved byte, general
/// status, no extended status, data.
fn cip_reply(service: u8, status: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![service | 0x80, 0, status, 0];
    v.extend_from_slice(data);
    v
}

/// An 8-bit logical path: class 0x20, instance 0x24, attribute 0x30.
fn cip_path(class: u8, instance: u8, attribute: Option<u8>) -> Vec<u8> {
    let mut p = vec![0x20, class, 0x24, instance];
    if let Some(a) = attribute {
        p.extend_from_slice(&[0x30, a]);
    }
    p
}

/// One request and its reply on an open EtherNet/IP session.
fn enip_exchange(
    cap: &mut Capture,
    c: &mut Conversation,
    session: u32,
    context: u64,
    request: &[u8],
    reply: &[u8],
) {
    cap.send_to_server(c, &send_rr_data(session, context, request));
    cap.send_to_client(c, &send_rr_data(session, context, reply));
}

/// A ListIdentity reply with one CIP Identity item (0x000C): protocol
/// version 1, the device's socket address (big-endian sockaddr_in), vendor
/// 1 (Rockwell), device type 0x0E (PLC), product code 0x0036, revision
/// 20.11, status 0x0060, serial, product name, state 3.
fn list_identity_reply(context: u64, ip: [u8; 4], serial: u32) -> Vec<u8> {
    let name = b"1756-L61/B LOGIX5561";
    let mut item = vec![1, 0, 0, 2, 0xaf, 0x12];
    item.extend_from_slice(&ip);
    item.extend_from_slice(&[0; 8]);
    item.extend_from_slice(&[1, 0, 0x0e, 0, 0x36, 0, 20, 11, 0x60, 0]);
    item.extend_from_slice(&serial.to_le_bytes());
    item.push(name.len() as u8);
    item.extend_from_slice(name);
    item.push(3);
    let mut d = vec![1, 0, 0x0c, 0];
    d.extend_from_slice(&(item.len() as u16).to_le_bytes());
    d.extend_from_slice(&item);
    encap(0x0063, 0, 0, context, &d)
}

/// A ListIdentity sweep over UDP: one host asks six addresses, five
/// devices answer.
fn enip_sweep(cap: &mut Capture) {
    for (i, dst) in (21..=26u8).enumerate() {
        let scanner = host(74, 50_000 + i as u16);
        let device = host(dst, 44818);
        let context = 0x5000 + i as u64;
        let mut f = udp_frame(&scanner, &device, &encap(0x0063, 0, 0, context, &[]));
        fill_checksums(&mut f);
        cap.push(&f);
        if dst != 26 {
            let answer =
                list_identity_reply(context, [10, 200, 7, dst], 0x00c0_ff00 + u32::from(dst));
            let mut f = udp_frame(&device, &scanner, &answer);
            fill_checksums(&mut f);
            cap.push(&f);
        }
    }
}

/// What the real peers cannot produce: a Logix controller stopped,
/// started and reset, its clock set, firmware and a program transferred,
/// its network configuration changed (directly and routed through an
/// Unconnected_Send), a PCCC mode change, a request without a registered
/// session, and malformed messages.
fn enip_attacks() -> Vec<u8> {
    let mut cap = Capture::starting(2 * 86_400_000_000);
    let plc = host(21, 44818);
    let mut c = Conversation::new(host(70, 42_000), plc);
    cap.open(&mut c);
    // RegisterSession: protocol version 1, options 0; the target answers
    // with session handle 0x11223344.
    cap.send_to_server(&mut c, &encap(0x0065, 0, 0, 1, &[1, 0, 0, 0]));
    cap.send_to_client(&mut c, &encap(0x0065, 0x1122_3344, 0, 1, &[1, 0, 0, 0]));
    let s = 0x1122_3344;
    let controller = cip_path(0x8e, 1, None);
    // The vendor services the engineering software sends to the controller
    // object around a mode change (0x4B before, 0x4C after, as in the
    // public CL5000 remote mode change capture), with Stop (0x07) and
    // Start (0x06) between them.
    for (context, service) in [(19, 0x4b), (2, 0x07), (3, 0x06), (20, 0x4c)] {
        enip_exchange(
            &mut cap,
            &mut c,
            s,
            context,
            &cip_request(service, &controller, &[]),
            &cip_reply(service, 0, &[]),
        );
    }
    // Reset (0x05) of the Identity object, type 0: restart the device.
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        4,
        &cip_request(0x05, &cip_path(0x01, 1, None), &[0]),
        &cip_reply(0x05, 0, &[]),
    );
    // Set_Attribute_List (0x04) to the Wall Clock Time object (0x8B):
    // one attribute, id 6, a 64-bit time in microseconds.
    let mut time = vec![1, 0, 6, 0];
    time.extend_from_slice(&1_700_000_000_000_000u64.to_le_bytes());
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        5,
        &cip_request(0x04, &cip_path(0x8b, 1, None), &time),
        &cip_reply(0x04, 0, &[1, 0, 6, 0, 0, 0]),
    );
    // Firmware transfer to class 0xA1: begin (0x4B), three blocks
    // (0x4D), end (0x51).
    let flash = cip_path(0xa1, 1, None);
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        6,
        &cip_request(0x4b, &flash, &[0, 0, 2, 0]),
        &cip_reply(0x4b, 0, &[]),
    );
    for block in 0..3u8 {
        let mut data = vec![block, 0, 0, 0];
        data.extend_from_slice(&[0xa5; 64]);
        enip_exchange(
            &mut cap,
            &mut c,
            s,
            7 + u64::from(block),
            &cip_request(0x4d, &flash, &data),
            &cip_reply(0x4d, 0, &[]),
        );
    }
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        10,
        &cip_request(0x51, &flash, &[]),
        &cip_reply(0x51, 0, &[]),
    );
    // Program download: Create (0x08) of a program object (class 0x68)
    // and a download transfer (0x50) to it.
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        11,
        &cip_request(0x08, &cip_path(0x68, 0, None), &[0, 0]),
        &cip_reply(0x08, 0, &[0x20, 0x24]),
    );
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        12,
        &cip_request(0x50, &cip_path(0x68, 0x20, None), &[0, 0, 0, 0, 1, 2, 3, 4]),
        &cip_reply(0x50, 0, &[]),
    );
    // Program upload: upload transfer (0x4F) from the program object.
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        13,
        &cip_request(0x4f, &cip_path(0x68, 0x20, None), &[0, 0, 0, 0]),
        &cip_reply(0x4f, 0, &[9, 9, 9, 9]),
    );
    // Set_Attribute_Single (0x10) of the TCP/IP Interface object (0xF5)
    // attribute 5, interface configuration: IP, mask, gateway, two name
    // servers, and an empty domain name.
    let mut config = Vec::new();
    for ip in [
        [10, 200, 7, 99],
        [255, 255, 255, 0],
        [10, 200, 7, 1],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
    ] {
        config.extend_from_slice(&ip);
    }
    config.extend_from_slice(&[0, 0]);
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        14,
        &cip_request(0x10, &cip_path(0xf5, 1, Some(5)), &config),
        &cip_reply(0x10, 0, &[]),
    );
    // The same kind of change routed to a module in slot 2 by an
    // Unconnected_Send (0x52 to the Connection Manager, class 6): priority
    // and tick 0x0a, timeout 0x0e ticks, the embedded Set_Attribute_Single
    // of the Ethernet Link object (0xF6) attribute 6 (interface control:
    // forced 10 Mb/s half duplex), a pad byte, the route: one word, port 1
    // (backplane) slot 2.
    let inner = cip_request(0x10, &cip_path(0xf6, 1, Some(6)), &[0x02, 0x00, 10, 0]);
    let mut routed = vec![0x0a, 0x0e];
    routed.extend_from_slice(&(inner.len() as u16).to_le_bytes());
    routed.extend_from_slice(&inner);
    if inner.len() % 2 == 1 {
        routed.push(0);
    }
    routed.extend_from_slice(&[1, 0, 0x01, 0x02]);
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        15,
        &cip_request(0x52, &cip_path(0x06, 1, None), &routed),
        &cip_reply(0x10, 0, &[]),
    );
    // Execute_PCCC (0x4B to class 0x67): requestor id (length 7, vendor 1,
    // serial 0x12345678), command 0x0F, status 0, transaction 0x0101,
    // function 0x80 change CPU mode, mode 0x01 (remote program).
    let pccc = [
        7, 1, 0, 0x78, 0x56, 0x34, 0x12, 0x0f, 0, 0x01, 0x01, 0x80, 0x01,
    ];
    let pccc_reply = [7, 1, 0, 0x78, 0x56, 0x34, 0x12, 0x4f, 0, 0x01, 0x01];
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        16,
        &cip_request(0x4b, &cip_path(0x67, 1, None), &pccc),
        &cip_reply(0x4b, 0, &pccc_reply),
    );
    // Logix Write_Tag (0x4D) by name: ANSI extended symbol segment 0x91,
    // length 11, "Tank_Setpnt" and a pad byte; data type REAL (0xCA),
    // one element, 42.5.
    let mut tag = vec![0x91, 11];
    tag.extend_from_slice(b"Tank_Setpnt\0");
    let mut value = vec![0xca, 0x00, 1, 0];
    value.extend_from_slice(&42.5f32.to_le_bytes());
    enip_exchange(
        &mut cap,
        &mut c,
        s,
        17,
        &cip_request(0x4d, &tag, &value),
        &cip_reply(0x4d, 0, &[]),
    );
    // UnRegisterSession: no reply.
    cap.send_to_server(&mut c, &encap(0x0066, s, 0, 18, &[]));
    cap.close(&mut c);

    // A request on a session nobody registered on this connection.
    let mut c = Conversation::new(host(71, 42_100), plc);
    cap.open(&mut c);
    let read_identity = cip_request(0x01, &cip_path(0x01, 1, None), &[]);
    cap.send_to_server(&mut c, &send_rr_data(0x5555_0000, 1, &read_identity));
    cap.send_to_client(&mut c, &encap(0x006f, 0x5555_0000, 0x0064, 1, &[]));
    cap.close(&mut c);

    // Malformed: an unconnected data item longer than the message, and a
    // CIP request whose path runs past its end.
    let mut c = Conversation::new(host(72, 42_200), plc);
    cap.open(&mut c);
    cap.send_to_server(&mut c, &encap(0x0065, 0, 0, 1, &[1, 0, 0, 0]));
    cap.send_to_client(&mut c, &encap(0x0065, 0x0000_0abc, 0, 1, &[1, 0, 0, 0]));
    let overrun = [
        0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0x00, 0x40, 0x00, 0x01, 0x02, 0x20, 0x01,
    ];
    cap.send_to_server(&mut c, &encap(0x006f, 0xabc, 0, 2, &overrun));
    cap.send_to_server(&mut c, &send_rr_data(0xabc, 3, &[0x0e, 0x05, 0x20, 0x01]));
    cap.close(&mut c);

    cap.pcap.into_bytes()
}

// ---- IEC 60870-5-104 (port 2404): APCI (start 0x68, length, four control
// octets), then the ASDU with two-octet cause and common address and
// three-octet object addresses.

/// An I-format APDU with send and receive sequence numbers.
fn iec_i(send: u16, receive: u16, asdu: &[u8]) -> Vec<u8> {
    let mut v = vec![0x68, (4 + asdu.len()) as u8];
    v.extend_from_slice(&(send << 1).to_le_bytes());
    v.extend_from_slice(&(receive << 1).to_le_bytes());
    v.extend_from_slice(asdu);
    v
}

/// A U-format APDU with the function bit `octet` (0x07 STARTDT act, 0x0b
/// con, 0x13 STOPDT act, 0x23 con, 0x43 TESTFR act, 0x83 con).
fn iec_u(octet: u8) -> Vec<u8> {
    vec![0x68, 4, octet, 0, 0, 0]
}

/// An ASDU with one object: type, cause (with the P/N bit when
/// `negative`), common address 7, the object's address and element.
fn iec_asdu(type_id: u8, cause: u8, ioa: u32, element: &[u8]) -> Vec<u8> {
    let mut v = vec![type_id, 1, cause, 0, 7, 0];
    v.extend_from_slice(&ioa.to_le_bytes()[..3]);
    v.extend_from_slice(element);
    v
}

/// What the c104 peers do not send on their own: on one session, a single
/// command, a set point, a reset process, a clock synchronisation, a
/// general interrogation, a parameter activation, a file directory call and
/// a STOPDT, each confirmed; then a frame injected with a sequence number
/// already used, an acknowledgement of frames never sent, and an ASDU whose
/// objects do not fit its count.
fn iec104_attacks() -> Vec<u8> {
    let mut cap = Capture::starting(2 * 86_400_000_000 + 60_000_000);
    let mut c = Conversation::new(host(80, 43_000), host(31, 2404));
    cap.open(&mut c);
    cap.send_to_server(&mut c, &iec_u(0x07));
    cap.send_to_client(&mut c, &iec_u(0x0b));
    // (type, element of the activation): C_SC_NA_1 on (execute), C_SE_NC_1
    // 42.5 (execute), C_RP_NA_1 general reset (QRP 1), C_CS_NA_1 with a
    // CP56 time, C_IC_NA_1 station interrogation (QOI 20), P_AC_NA_1
    // (QPA 3), F_SC_NA_1 call directory (file 0, section 0, SCQ 0).
    let mut set_point = 42.5f32.to_le_bytes().to_vec();
    set_point.push(0);
    let time = [0x10, 0x27, 0x1e, 0x0a, 0x03, 0x0c, 0x1a];
    let commands: [(u8, u32, Vec<u8>); 7] = [
        (45, 4501, vec![0x01]),
        (50, 6001, set_point),
        (105, 0, vec![0x01]),
        (103, 0, time.to_vec()),
        (100, 0, vec![20]),
        (113, 6001, vec![0x03]),
        (122, 0, vec![0, 0, 0, 0]),
    ];
    let (mut ns_master, mut ns_rtu) = (0u16, 0u16);
    for (type_id, ioa, element) in &commands {
        cap.send_to_server(
            &mut c,
            &iec_i(ns_master, ns_rtu, &iec_asdu(*type_id, 6, *ioa, element)),
        );
        ns_master += 1;
        cap.send_to_client(
            &mut c,
            &iec_i(ns_rtu, ns_master, &iec_asdu(*type_id, 7, *ioa, element)),
        );
        ns_rtu += 1;
    }
    // An S-frame, then a single command injected with N(S) 3 again.
    cap.send_to_server(&mut c, &[0x68, 4, 0x01, 0, (ns_rtu << 1) as u8, 0]);
    cap.send_to_server(&mut c, &iec_i(3, ns_rtu, &iec_asdu(45, 6, 4502, &[0x01])));
    // The RTU acknowledges 40 frames the master never sent.
    cap.send_to_client(&mut c, &[0x68, 4, 0x01, 0, 80, 0]);
    // Two objects announced, one present.
    let mut bad = iec_asdu(13, 3, 100, &[0, 0, 0x20, 0x41, 0]);
    bad[1] = 2;
    cap.send_to_client(&mut c, &iec_i(ns_rtu, ns_master, &bad));
    cap.send_to_server(&mut c, &iec_u(0x13));
    cap.send_to_client(&mut c, &iec_u(0x23));
    cap.close(&mut c);
    cap.pcap.into_bytes()
}

#[test]
fn synthesized_rule_captures_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let write = std::env::var_os("OTWATCH_WRITE_SYNTH").is_some();
    for (name, bytes) in [
        ("synth_modbus_malformed.pcap", modbus_malformed()),
        ("synth_s7comm_download.pcap", s7comm_download()),
        ("synth_dnp3_misc.pcap", dnp3_misc()),
        ("synth_evasion.pcap", evasion()),
        ("synth_recon.pcap", recon()),
        ("synth_enip.pcap", enip_attacks()),
        ("synth_iec104.pcap", iec104_attacks()),
    ] {
        let path = dir.join(name);
        if write {
            std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with OTWATCH_WRITE_SYNTH=1)", path.display()));
        assert!(
            on_disk == bytes,
            "{name} differs from what tests/rules_synth.rs builds; run with OTWATCH_WRITE_SYNTH=1"
        );
    }
}
