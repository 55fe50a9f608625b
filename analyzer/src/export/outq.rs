//! Whether the receiver's TCP has acknowledged what a syslog export wrote.
//!
//! A write to a TCP socket only hands bytes to the kernel: it succeeds when
//! the receiver has already gone, and the bytes are then lost with the
//! connection. An export counts a batch as sent only once the connection's
//! send queue is empty (every byte written was acknowledged) while it is
//! still established. The kernel lists both for each socket of the network
//! namespace in `/proc/net/tcp` and `/proc/net/tcp6` (`st` and `tx_queue`,
//! which is the write sequence minus the oldest unacknowledged one), which
//! reads without `unsafe` and also tells a reset connection: it is no
//! longer listed.

use std::net::SocketAddr;

/// `st` of an established connection (`TCP_ESTABLISHED`).
pub(crate) const ESTABLISHED: u8 = 0x01;

/// The state and send queue (bytes written, not yet acknowledged) of the
/// connection from `local` to `peer`; `None` when the kernel no longer
/// lists it (closed or reset).
pub(crate) fn send_queue(
    local: SocketAddr,
    peer: SocketAddr,
) -> std::io::Result<Option<(u8, usize)>> {
    let table = match local {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table)?;
    Ok(find(&text, &key(local), &key(peer)))
}

/// An address as the table writes it: each 32-bit word of the address in
/// the machine's byte order as eight hex digits, `:`, the port in hex.
fn key(a: SocketAddr) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(38);
    let words: Vec<[u8; 4]> = match a {
        SocketAddr::V4(v) => vec![v.ip().octets()],
        SocketAddr::V6(v) => v
            .ip()
            .octets()
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect(),
    };
    for w in words {
        let _ = write!(out, "{:08X}", u32::from_ne_bytes(w));
    }
    let _ = write!(out, ":{:04X}", a.port());
    out
}

/// The `(st, tx_queue)` of the line whose local and remote addresses match.
fn find(table: &str, local: &str, peer: &str) -> Option<(u8, usize)> {
    table.lines().skip(1).find_map(|line| {
        let mut f = line.split_whitespace();
        let (_sl, l, r, st, queues) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
        if !l.eq_ignore_ascii_case(local) || !r.eq_ignore_ascii_case(peer) {
            return None;
        }
        let st = u8::from_str_radix(st, 16).ok()?;
        let tx = usize::from_str_radix(queues.split(':').next()?, 16).ok()?;
        Some((st, tx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn table_lines_are_matched_by_both_addresses() {
        // Two lines of /proc/net/tcp as Linux writes them on x86: local
        // 127.0.0.1:514 (0100007F:0202), remote 127.0.0.1:40000 (9C40), state
        // 01, tx_queue 0x1F4 = 500 bytes unacknowledged.
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:0202 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:9C40 0100007F:0202 01 000001F4:00000000 01:00000014 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(
            find(table, "0100007F:9C40", "0100007F:0202"),
            Some((1, 500))
        );
        assert_eq!(find(table, "0100007F:0202", "0100007F:9C40"), None);
    }

    #[test]
    fn a_loopback_connection_is_found_drained_and_gone_after_a_reset() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let (local, peer) = (
            client.local_addr().expect("local"),
            client.peer_addr().expect("peer"),
        );
        client.write_all(&[7u8; 4000]).expect("write");
        let t0 = std::time::Instant::now();
        loop {
            let q = send_queue(local, peer).expect("table").expect("listed");
            assert_eq!(q.0, ESTABLISHED);
            if q.1 == 0 {
                break;
            }
            assert!(t0.elapsed().as_secs() < 5, "loopback never acknowledged");
            std::thread::yield_now();
        }
        let mut got = vec![0u8; 4000];
        server.read_exact(&mut got).expect("read");
        assert_eq!(got, vec![7u8; 4000]);
        // The receiver resets the connection: the client's is no longer listed.
        socket2::SockRef::from(&server)
            .set_linger(Some(std::time::Duration::ZERO))
            .expect("linger");
        drop(server);
        let t0 = std::time::Instant::now();
        while send_queue(local, peer).expect("table").is_some() {
            assert!(t0.elapsed().as_secs() < 5, "reset connection still listed");
            std::thread::yield_now();
        }
    }
}
