//! RELP, the Reliable Event Logging Protocol of rsyslog (`imrelp`): every
//! message is a numbered command the receiver answers, so a message counts
//! as delivered only once the receiver said it took it.
//!
//! A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: TXNR a transaction
//! number of 1 to 9 digits (0 only for the server's `serverclose`), COMMAND
//! letters, DATALEN the byte count of DATA (no SP and no DATA when 0). The
//! client opens with `open` (offers `relp_version`, `relp_software` and
//! `commands=syslog`), sends `syslog` commands, each answered by a `rsp`
//! whose data starts with a status code (`200 OK`), and ends with `close`.
//! Numbers run from 1 and wrap from 999,999,999 back to 1.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest DATA accepted from a receiver (its answers are a few bytes).
const MAX_DATA: usize = 1 << 20;
const MAX_TXNR: u32 = 999_999_999;

/// One parsed frame, borrowing the buffer it came from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub(crate) txnr: u32,
    pub(crate) command: &'a [u8],
    pub(crate) data: &'a [u8],
}

/// Reads decimal digits at `at`: the value and where they end, `None` when
/// the buffer ends inside them.
fn digits(
    buf: &[u8],
    at: usize,
    max_len: usize,
    what: &str,
) -> Result<Option<(u64, usize)>, String> {
    let mut v: u64 = 0;
    let mut i = at;
    while i < buf.len() && buf[i].is_ascii_digit() {
        if i - at == max_len {
            return Err(format!("{what} longer than {max_len} digits"));
        }
        v = v * 10 + u64::from(buf[i] - b'0');
        i += 1;
    }
    if i == buf.len() {
        return Ok(None);
    }
    if i == at {
        return Err(format!(
            "{what}: expected a digit, got byte {:#04x}",
            buf[i]
        ));
    }
    Ok(Some((v, i)))
}

/// The first frame of `buf` and its length, `Ok(None)` while incomplete.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, String> {
    let Some((txnr, i)) = digits(buf, 0, 9, "transaction number")? else {
        return Ok(None);
    };
    if buf[i] != b' ' {
        return Err("no space after the transaction number".into());
    }
    let start = i + 1;
    let mut j = start;
    while j < buf.len() && buf[j].is_ascii_alphabetic() {
        if j - start == 32 {
            return Err("command longer than 32 letters".into());
        }
        j += 1;
    }
    if j == buf.len() {
        return Ok(None);
    }
    if j == start || buf[j] != b' ' {
        return Err("malformed command".into());
    }
    let command = &buf[start..j];
    let Some((len, k)) = digits(buf, j + 1, 9, "data length")? else {
        return Ok(None);
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > MAX_DATA {
        return Err(format!("data of {len} bytes (at most {MAX_DATA})"));
    }
    let (data, end) = if len == 0 {
        (&buf[k..k], k)
    } else {
        if buf[k] != b' ' {
            return Err("no space before the data".into());
        }
        let from = k + 1;
        if buf.len() < from + len {
            return Ok(None);
        }
        (&buf[from..from + len], from + len)
    };
    match buf.get(end) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((
            Frame {
                txnr: u32::try_from(txnr).unwrap_or(u32::MAX),
                command,
                data,
            },
            end + 1,
        ))),
        Some(b) => Err(format!("frame not ended by a line feed (byte {b:#04x})")),
    }
}

/// Appends one frame to `out`.
pub(crate) fn frame(out: &mut Vec<u8>, txnr: u32, command: &str, data: &[u8]) {
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(n.format(txnr).as_bytes());
    out.push(b' ');
    out.extend_from_slice(command.as_bytes());
    out.push(b' ');
    out.extend_from_slice(n.format(data.len()).as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
}

/// The status code at the start of a `rsp`'s data (`200 OK` → 200).
fn status(data: &[u8]) -> Option<u16> {
    let code = data.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || data.get(3).is_some_and(|b| !b" \n".contains(b)) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The transaction number after `n`.
fn next_txnr(n: u32) -> u32 {
    if n >= MAX_TXNR {
        1
    } else {
        n + 1
    }
}

/// An open RELP session on a TCP connection.
pub(crate) struct Session {
    stream: TcpStream,
    next: u32,
    rx: Vec<u8>,
}

impl Session {
    /// Sends `open` and waits for the receiver to accept it.
    pub(crate) async fn open(stream: TcpStream, timeout: Duration) -> Result<Session, String> {
        let mut s = Session {
            stream,
            next: 1,
            rx: Vec::new(),
        };
        let offers = format!(
            "relp_version=0\nrelp_software=otwatch,{},\ncommands=syslog",
            env!("CARGO_PKG_VERSION")
        );
        let txnr = s.take_txnr();
        let mut out = Vec::new();
        frame(&mut out, txnr, "open", offers.as_bytes());
        tokio::time::timeout(timeout, async {
            s.stream.write_all(&out).await.map_err(|e| e.to_string())?;
            let (n, command, data) = s.read_frame().await?;
            match (n == txnr, command.as_slice(), status(&data)) {
                (true, b"rsp", Some(200)) => {}
                _ => {
                    return Err(format!(
                        "the receiver refused the session: {}",
                        String::from_utf8_lossy(&data).lines().next().unwrap_or("")
                    ))
                }
            }
            let commands_ok = String::from_utf8_lossy(&data).lines().any(|l| {
                l.strip_prefix("commands=")
                    .is_some_and(|c| c.split(',').any(|c| c == "syslog"))
            });
            if !commands_ok {
                return Err("the receiver does not offer the syslog command".into());
            }
            Ok(())
        })
        .await
        .map_err(|_| "RELP open timed out".to_string())??;
        Ok(s)
    }

    /// The TCP connection under the session.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    fn take_txnr(&mut self) -> u32 {
        let n = self.next;
        self.next = next_txnr(n);
        n
    }

    /// Reads the next whole frame: transaction number, command, data.
    async fn read_frame(&mut self) -> Result<(u32, Vec<u8>, Vec<u8>), String> {
        loop {
            if let Some((f, used)) = parse(&self.rx)? {
                let got = (f.txnr, f.command.to_vec(), f.data.to_vec());
                self.rx.drain(..used);
                return Ok(got);
            }
            let mut buf = [0u8; 4096];
            let n = self
                .stream
                .read(&mut buf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the receiver closed the connection".into());
            }
            self.rx.extend_from_slice(&buf[..n]);
        }
    }

    /// Sends `msgs` as `syslog` commands and waits for their answers. The
    /// count is how many of them, from the first, the receiver took; the
    /// error says why the rest were not.
    pub(crate) async fn send(
        &mut self,
        msgs: &[Vec<u8>],
        timeout: Duration,
    ) -> (usize, Option<String>) {
        let mut out = Vec::new();
        let mut pending: Vec<u32> = Vec::with_capacity(msgs.len());
        for m in msgs {
            let txnr = self.take_txnr();
            frame(&mut out, txnr, "syslog", m);
            pending.push(txnr);
        }
        let mut taken = vec![false; msgs.len()];
        let work = async {
            self.stream
                .write_all(&out)
                .await
                .map_err(|e| e.to_string())?;
            let mut answered = 0;
            while answered < msgs.len() {
                let (n, command, data) = self.read_frame().await?;
                if command == b"serverclose" {
                    return Err("the receiver closed the session".to_string());
                }
                if command != b"rsp" {
                    continue;
                }
                let Some(i) = pending.iter().position(|&p| p == n) else {
                    continue;
                };
                match status(&data) {
                    Some(200) => {
                        if !taken[i] {
                            taken[i] = true;
                            answered += 1;
                        }
                    }
                    _ => {
                        return Err(format!(
                            "the receiver refused a message: {}",
                            String::from_utf8_lossy(&data).lines().next().unwrap_or("")
                        ))
                    }
                }
            }
            Ok(())
        };
        let err = match tokio::time::timeout(timeout, work).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("no answer from the receiver in time".to_string()),
        };
        (taken.iter().take_while(|t| **t).count(), err)
    }

    /// Why the session is over, when the receiver closed it (`serverclose`,
    /// end of stream or an error) while it was idle; `None` while it is open.
    pub(crate) fn closed_by_peer(&mut self) -> Option<String> {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.try_read(&mut buf) {
                Ok(0) => return Some("the receiver closed the connection".into()),
                Ok(n) => self.rx.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Some(e.to_string()),
            }
        }
        loop {
            match parse(&self.rx) {
                Ok(Some((f, used))) => {
                    let close = f.command == b"serverclose";
                    self.rx.drain(..used);
                    if close {
                        return Some("the receiver closed the session".into());
                    }
                }
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    }

    /// Ends the session with `close` (answered or not within `timeout`).
    pub(crate) async fn close(&mut self, timeout: Duration) {
        let txnr = self.take_txnr();
        let mut out = Vec::new();
        frame(&mut out, txnr, "close", b"");
        let _ = tokio::time::timeout(timeout, async {
            if self.stream.write_all(&out).await.is_ok() {
                while let Ok((n, _, _)) = self.read_frame().await {
                    if n == txnr {
                        break;
                    }
                }
            }
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_whole_and_wait_when_cut() {
        // "1" txnr, "rsp" command, "6" data length, "200 OK" data, LF.
        let f = b"1 rsp 6 200 OK\n0 serverclose 0\n";
        let (a, used) = parse(f).expect("valid").expect("whole");
        assert_eq!(
            a,
            Frame {
                txnr: 1,
                command: b"rsp",
                data: b"200 OK"
            }
        );
        assert_eq!(used, 15);
        let (b, used2) = parse(&f[used..]).expect("valid").expect("whole");
        assert_eq!(
            (b.txnr, b.command, b.data),
            (0, &b"serverclose"[..], &b""[..])
        );
        assert_eq!(used + used2, f.len());
        for cut in 0..15 {
            assert_eq!(parse(&f[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn malformed_frames_are_errors() {
        for bad in [
            &b"x rsp 0\n"[..],
            b"1 rsp x\n",
            b"1  rsp 0\n",
            b"1 rsp 2 ok!\n",
            b"1234567890 rsp 0\n",
            b"1 rsp 99999999 \n",
            b"1 r5p 0\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn frames_are_written_as_the_receiver_reads_them() {
        let mut out = Vec::new();
        frame(&mut out, 7, "syslog", b"<134>1 - h a - - - x");
        frame(&mut out, 8, "close", b"");
        assert_eq!(out, b"7 syslog 20 <134>1 - h a - - - x\n8 close 0\n");
        let (f, n) = parse(&out).expect("valid").expect("whole");
        assert_eq!((f.txnr, f.data.len(), n), (7, 20, 33));
    }

    #[test]
    fn status_codes_and_transaction_numbers() {
        assert_eq!(status(b"200 OK"), Some(200));
        assert_eq!(status(b"500 error\nmore"), Some(500));
        assert_eq!(status(b"200"), Some(200));
        assert_eq!(status(b"20"), None);
        assert_eq!(status(b"2000"), None);
        assert_eq!(next_txnr(1), 2);
        assert_eq!(next_txnr(MAX_TXNR - 1), MAX_TXNR);
        assert_eq!(next_txnr(MAX_TXNR), 1);
    }
}
