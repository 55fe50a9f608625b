//! IEC 60870-5-104 on TCP port 2404, as a grid control centre runs it.
//! Every substation RTU is a controlled station with its own common address
//! and two connections, one from each SCADA front-end:
//!
//! * the primary's is started (STARTDT): when it opens, a general
//!   interrogation, a counter interrogation and a clock synchronisation;
//!   then the station's periodic measurands every half second or so, now and
//!   then a spontaneous alarm with its CP56 time tag, and the front-end
//!   acknowledging every w = 8 I-frames with an S-frame (or after t2 when
//!   fewer came). On two feeders the operator works the plant: a breaker
//!   opened and closed by select-and-execute double commands, a reactive
//!   power set point changed.
//! * the backup's stays stopped, as redundant control centres keep their
//!   standby links: only test frames (TESTFR) every t3 = 20 s.

use std::net::Ipv4Addr;

use super::net::{self, HostAddr};
use super::tcp::{Dir, Pdu, Segmenting, TcpConn};
use super::{Class, Cx, Rng, Source};

/// The IEC 104 port.
pub const PORT: u16 = 2_404;

/// Substations (controlled stations).
const STATIONS: u8 = 24;

/// The SCADA front-ends: the primary, then the backup.
pub(crate) fn front_ends() -> [HostAddr; 2] {
    [
        net::host(Ipv4Addr::new(10, 10, 1, 40), net::OUI_DELL, 128),
        net::host(Ipv4Addr::new(10, 10, 1, 41), net::OUI_DELL, 128),
    ]
}

/// The RTU of substation `i`.
pub(crate) fn rtu(i: usize) -> HostAddr {
    net::host(Ipv4Addr::new(10, 10, 7, 1 + i as u8), net::OUI_SIEMENS, 64)
}

/// The common address of substation `i`.
pub(crate) fn common_address(i: usize) -> u16 {
    101 + i as u16
}

// Type ids used here.
const M_SP_NA_1: u8 = 1;
const M_DP_NA_1: u8 = 3;
const M_ME_NC_1: u8 = 13;
const M_IT_NA_1: u8 = 15;
const M_SP_TB_1: u8 = 30;
pub(crate) const M_DP_TB_1: u8 = 31;
pub(crate) const C_DC_NA_1: u8 = 46;
const C_SE_NC_1: u8 = 50;
pub(crate) const C_IC_NA_1: u8 = 100;
const C_CI_NA_1: u8 = 101;
const C_CS_NA_1: u8 = 103;

// Causes of transmission.
const PERIODIC: u8 = 1;
pub(crate) const SPONTANEOUS: u8 = 3;
pub(crate) const ACTIVATION: u8 = 6;
pub(crate) const ACTIVATION_CON: u8 = 7;
pub(crate) const ACTIVATION_TERM: u8 = 10;
pub(crate) const INTERROGATED: u8 = 20;
const COUNTER_REQUEST: u8 = 37;

// U-format control octets.
pub(crate) const STARTDT_ACT: u8 = 0x07;
pub(crate) const STARTDT_CON: u8 = 0x0b;
const TESTFR_ACT: u8 = 0x43;
const TESTFR_CON: u8 = 0x83;

/// Object addresses of a station: alarms (single points), breakers
/// (double points), the reactive power set point, measurands, counters.
pub(crate) const ALARMS: u32 = 1_001;
pub(crate) const BREAKERS: u32 = 2_001;
const SET_POINT: u32 = 3_001;
const MEASURANDS: u32 = 4_001;
const COUNTERS: u32 = 5_001;

/// Double point states.
pub(crate) const OFF: u8 = 1;
pub(crate) const ON: u8 = 2;

/// The 15-bit sequence numbers of one connection: the I-frames each side
/// has sent (and so the other has received).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Numbers {
    controlling: u16,
    controlled: u16,
}

impl Numbers {
    /// Appends an I-frame carrying `asdu` from the controlling side
    /// (`true`) or the controlled one, acknowledging all it received.
    pub(crate) fn i_frame(&mut self, out: &mut Vec<u8>, controlling: bool, asdu: &[u8]) {
        let (send, receive) = if controlling {
            (&mut self.controlling, self.controlled)
        } else {
            (&mut self.controlled, self.controlling)
        };
        out.push(0x68);
        out.push((4 + asdu.len()) as u8);
        out.extend_from_slice(&(*send << 1).to_le_bytes());
        out.extend_from_slice(&(receive << 1).to_le_bytes());
        out.extend_from_slice(asdu);
        *send = (*send + 1) & 0x7fff;
    }

    /// Appends the controlling side's S-frame acknowledging every I-frame
    /// it received.
    fn s_frame(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0x68, 4, 0x01, 0]);
        out.extend_from_slice(&(self.controlled << 1).to_le_bytes());
    }
}

/// Appends a U-frame.
pub(crate) fn u_frame(out: &mut Vec<u8>, octet: u8) {
    out.extend_from_slice(&[0x68, 4, octet, 0, 0, 0]);
}

/// An ASDU header: type id, variable structure qualifier (SQ bit and
/// count), cause, originator 0, common address (the objects follow).
pub(crate) fn asdu(type_id: u8, sequence: bool, count: u8, cause: u8, ca: u16) -> Vec<u8> {
    let mut a = Vec::with_capacity(64);
    a.extend_from_slice(&[type_id, u8::from(sequence) << 7 | count, cause, 0]);
    a.extend_from_slice(&ca.to_le_bytes());
    a
}

/// Appends a 3-byte information object address.
pub(crate) fn ioa(out: &mut Vec<u8>, address: u32) {
    out.extend_from_slice(&address.to_le_bytes()[..3]);
}

/// Appends a CP56Time2a time tag of `us` (µs since the epoch, UTC):
/// milliseconds of the minute, minute, hour, day of month with day of
/// week, month, year of the century.
pub(crate) fn cp56(out: &mut Vec<u8>, us: u64) {
    let ms = us / 1_000;
    let secs = ms / 1_000;
    let days = (secs / 86_400) as i64;
    let (y, m, d) = otwatch_proto::civil::civil_from_days(days);
    // 1970-01-01 was a Thursday (4; Monday is 1).
    let weekday = ((days + 3) % 7 + 1) as u8;
    let of_minute = (secs % 60 * 1_000 + ms % 1_000) as u16;
    out.extend_from_slice(&of_minute.to_le_bytes());
    out.push((secs / 60 % 60) as u8);
    out.push((secs / 3_600 % 24) as u8);
    out.push(weekday << 5 | d as u8);
    out.push(m as u8);
    out.push((y % 100) as u8);
}

/// What the operator does on a feeder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    /// Opens or closes breaker 1 by select and execute.
    Breaker,
    /// Changes the reactive power set point.
    SetPoint,
}

/// One front-end's connection to one station.
struct Session {
    conn: TcpConn,
    rng: Rng,
    ca: u16,
    primary: bool,
    started: bool,
    numbers: Numbers,
    /// Station I-frames the front-end has not acknowledged yet, and when it
    /// last did.
    unacked: u16,
    last_ack: u64,
    period: u64,
    alarms: [bool; 16],
    breakers: [u8; 4],
    measurands: [f32; 8],
    counters: [i32; 4],
    set_point: f32,
    operation: Option<Operation>,
    next_operation: u64,
}

impl Session {
    /// Sends `msg` holding APDUs that end at `ends` (requests from the
    /// front-end, responses from the station).
    fn send(&mut self, cx: &mut Cx, dir: Dir, t: u64, msg: &[u8], ends: &[usize]) -> u64 {
        let pdus: Vec<Pdu> = ends
            .iter()
            .map(|&e| match dir {
                Dir::ToServer => Pdu::Request(e),
                Dir::ToClient => Pdu::Response(e),
            })
            .collect();
        self.conn
            .send(cx, &mut self.rng, dir, t, msg, &pdus, Segmenting::OT)
    }

    /// A U-frame `act` from the front-end and the station's `con`.
    fn u_exchange(&mut self, cx: &mut Cx, t: u64, act: u8, con: u8) -> u64 {
        let mut m = Vec::with_capacity(6);
        u_frame(&mut m, act);
        let t = self.send(cx, Dir::ToServer, t, &m, &[6]);
        m.clear();
        u_frame(&mut m, con);
        let delay = self.rng.range(2_000, 12_000);
        self.send(cx, Dir::ToClient, t + delay, &m, &[6])
    }

    /// An I-frame from the front-end.
    fn front_end_sends(&mut self, cx: &mut Cx, t: u64, asdu: &[u8]) -> u64 {
        let mut m = Vec::with_capacity(6 + asdu.len());
        self.numbers.i_frame(&mut m, true, asdu);
        self.unacked = 0;
        self.last_ack = t;
        let n = m.len();
        self.send(cx, Dir::ToServer, t, &m, &[n])
    }

    /// I-frames from the station in one send (at most four, so that with
    /// the seven the front-end may leave unacknowledged the window k = 12
    /// is never full), then the front-end's S-frame when w = 8 came.
    fn station_sends(&mut self, cx: &mut Cx, t: u64, asdus: &[&[u8]]) -> u64 {
        let mut m = Vec::with_capacity(256);
        let mut ends = Vec::with_capacity(asdus.len());
        for a in asdus.iter().take(4) {
            self.numbers.i_frame(&mut m, false, a);
            ends.push(m.len());
            self.unacked += 1;
        }
        let t = self.send(cx, Dir::ToClient, t, &m, &ends);
        if self.unacked >= 8 {
            let ta = t + self.rng.range(300, 2_000);
            return self.acknowledge(cx, ta);
        }
        if self.rng.chance(0.5) {
            let ta = t + self.rng.range(200, 600);
            self.conn.ack(cx, Dir::ToServer, ta);
            return ta;
        }
        t
    }

    /// The front-end's S-frame.
    fn acknowledge(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let mut m = Vec::with_capacity(6);
        self.numbers.s_frame(&mut m);
        self.unacked = 0;
        self.last_ack = t;
        self.send(cx, Dir::ToServer, t, &m, &[6])
    }

    /// The station's reply to an activation: the same ASDU with `cause`.
    fn echo(act: &[u8], cause: u8) -> Vec<u8> {
        let mut a = act.to_vec();
        a[2] = cause;
        a
    }

    /// An activation, its confirmation, what the station sends for it and
    /// its termination.
    fn activation(&mut self, cx: &mut Cx, t: u64, act: &[u8], data: &[&[u8]]) -> u64 {
        let t = self.front_end_sends(cx, t, act);
        let con = Self::echo(act, ACTIVATION_CON);
        let delay = self.rng.range(3_000, 15_000);
        let t = self.station_sends(cx, t + delay, &[&con]);
        let mut t = t;
        for chunk in data.chunks(3) {
            let delay = self.rng.range(1_000, 5_000);
            t = self.station_sends(cx, t + delay, chunk);
        }
        let term = Self::echo(act, ACTIVATION_TERM);
        let delay = self.rng.range(1_000, 4_000);
        self.station_sends(cx, t + delay, &[&term])
    }

    fn measurands_asdu(&self, cause: u8) -> Vec<u8> {
        let mut a = asdu(M_ME_NC_1, false, 8, cause, self.ca);
        for (i, v) in self.measurands.iter().enumerate() {
            ioa(&mut a, MEASURANDS + i as u32);
            a.extend_from_slice(&v.to_le_bytes());
            a.push(0); // QDS: good
        }
        a
    }

    /// General interrogation: every alarm (a sequence of single points),
    /// breaker and measurand.
    fn interrogation(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let mut act = asdu(C_IC_NA_1, false, 1, ACTIVATION, self.ca);
        ioa(&mut act, 0);
        act.push(20); // QOI: station interrogation
        let mut alarms = asdu(M_SP_NA_1, true, 16, INTERROGATED, self.ca);
        ioa(&mut alarms, ALARMS);
        alarms.extend(self.alarms.iter().map(|&on| u8::from(on)));
        let mut breakers = asdu(M_DP_NA_1, false, 4, INTERROGATED, self.ca);
        for (i, &state) in self.breakers.iter().enumerate() {
            ioa(&mut breakers, BREAKERS + i as u32);
            breakers.push(state);
        }
        let measurands = self.measurands_asdu(INTERROGATED);
        self.activation(cx, t, &act, &[&alarms, &breakers, &measurands])
    }

    /// Counter interrogation: the energy counters.
    fn counter_interrogation(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let mut act = asdu(C_CI_NA_1, false, 1, ACTIVATION, self.ca);
        ioa(&mut act, 0);
        act.push(5); // QCC: general request, no freeze
        let mut totals = asdu(M_IT_NA_1, false, 4, COUNTER_REQUEST, self.ca);
        for (i, c) in self.counters.iter().enumerate() {
            ioa(&mut totals, COUNTERS + i as u32);
            totals.extend_from_slice(&c.to_le_bytes());
            totals.push(i as u8); // sequence number, no carry, valid
        }
        self.activation(cx, t, &act, &[&totals])
    }

    /// Clock synchronisation, confirmed with the same time.
    fn clock_sync(&mut self, cx: &mut Cx, t: u64) -> u64 {
        let mut act = asdu(C_CS_NA_1, false, 1, ACTIVATION, self.ca);
        ioa(&mut act, 0);
        cp56(&mut act, t);
        let t = self.front_end_sends(cx, t, &act);
        let con = Self::echo(&act, ACTIVATION_CON);
        let delay = self.rng.range(3_000, 10_000);
        self.station_sends(cx, t + delay, &[&con])
    }

    /// The periodic measurands, now and then with an alarm that came or
    /// went.
    fn cyclic(&mut self, cx: &mut Cx, t: u64) -> u64 {
        for v in &mut self.measurands {
            *v += (self.rng.range(0, 200) as f32 - 100.0) / 1_000.0;
        }
        for c in &mut self.counters {
            *c = c.wrapping_add(self.rng.range(0, 3) as i32);
        }
        let periodic = self.measurands_asdu(PERIODIC);
        if !self.rng.chance(0.1) {
            return self.station_sends(cx, t, &[&periodic]);
        }
        let k = self.rng.range(0, 15) as usize;
        self.alarms[k] = !self.alarms[k];
        let mut event = asdu(M_SP_TB_1, false, 1, SPONTANEOUS, self.ca);
        ioa(&mut event, ALARMS + k as u32);
        event.push(u8::from(self.alarms[k]));
        cp56(&mut event, t.saturating_sub(self.rng.range(5_000, 80_000)));
        self.station_sends(cx, t, &[&periodic, &event])
    }

    /// Breaker 1 operated (select, execute, the new state, termination)
    /// or the set point changed (confirmed).
    fn operate(&mut self, cx: &mut Cx, t: u64, operation: Operation) -> u64 {
        match operation {
            Operation::Breaker => {
                let target = if self.breakers[0] == ON { OFF } else { ON };
                let command = |select: bool, ca| {
                    let mut a = asdu(C_DC_NA_1, false, 1, ACTIVATION, ca);
                    ioa(&mut a, BREAKERS);
                    a.push(u8::from(select) << 7 | target);
                    a
                };
                let select = command(true, self.ca);
                let t = self.front_end_sends(cx, t, &select);
                let con = Self::echo(&select, ACTIVATION_CON);
                let delay = self.rng.range(3_000, 12_000);
                let t = self.station_sends(cx, t + delay, &[&con]);
                let execute = command(false, self.ca);
                let delay = self.rng.range(200_000, 900_000);
                let t = self.front_end_sends(cx, t + delay, &execute);
                let con = Self::echo(&execute, ACTIVATION_CON);
                let delay = self.rng.range(3_000, 12_000);
                let t = self.station_sends(cx, t + delay, &[&con]);
                self.breakers[0] = target;
                let mut state = asdu(M_DP_TB_1, false, 1, SPONTANEOUS, self.ca);
                ioa(&mut state, BREAKERS);
                state.push(target);
                let moved = t + self.rng.range(60_000, 120_000);
                cp56(&mut state, moved);
                let term = Self::echo(&execute, ACTIVATION_TERM);
                self.station_sends(cx, moved + 2_000, &[&state, &term])
            }
            Operation::SetPoint => {
                self.set_point += (self.rng.range(0, 40) as f32 - 20.0) / 10.0;
                let mut act = asdu(C_SE_NC_1, false, 1, ACTIVATION, self.ca);
                ioa(&mut act, SET_POINT);
                act.extend_from_slice(&self.set_point.to_le_bytes());
                act.push(0); // QOS: execute
                let t = self.front_end_sends(cx, t, &act);
                let con = Self::echo(&act, ACTIVATION_CON);
                let delay = self.rng.range(3_000, 12_000);
                self.station_sends(cx, t + delay, &[&con])
            }
        }
    }
}

impl Source for Session {
    fn reseed(&mut self, salt: u64) {
        self.rng = Rng::new(salt);
    }

    fn step(&mut self, now: u64, cx: &mut Cx) -> Option<u64> {
        if !self.started {
            self.started = true;
            let t = self.conn.handshake(cx, now, self.rng.range(2_000, 9_000));
            if !self.primary {
                return Some(t + self.rng.range(1_000_000, 20_000_000));
            }
            let t = self.u_exchange(cx, t + 2_000, STARTDT_ACT, STARTDT_CON);
            let t = self.interrogation(cx, t + 20_000);
            let t = self.counter_interrogation(cx, t + 20_000);
            let t = self.clock_sync(cx, t + 20_000);
            self.next_operation = now + self.rng.range(8_000_000, 25_000_000);
            return Some(t + self.period);
        }
        if !self.primary {
            // t3: a test frame when the link was idle for 20 s.
            let t = self.u_exchange(cx, now, TESTFR_ACT, TESTFR_CON);
            return Some(t + 20_000_000);
        }
        let t = match self.operation {
            Some(op) if now >= self.next_operation => {
                self.next_operation = now + self.rng.range(15_000_000, 35_000_000);
                self.operate(cx, now, op)
            }
            _ => self.cyclic(cx, now),
        };
        // t2: what came since the last acknowledgement, acknowledged
        // within 10 s.
        let t = if self.unacked > 0 && t > self.last_ack + 10_000_000 {
            self.acknowledge(cx, t + 1_000)
        } else {
            t
        };
        let jitter = self.period / 10;
        Some((now + self.period - jitter + self.rng.range(0, 2 * jitter)).max(t + 1_000))
    }
}

/// The IEC 104 sources of the plant.
pub(crate) fn build(rng: &mut Rng, start: u64, all: &mut Vec<(u64, Box<dyn Source>)>) {
    for i in 0..usize::from(STATIONS) {
        for (f, &front_end) in front_ends().iter().enumerate() {
            let mut r = rng.fork();
            let conn = TcpConn::new(
                &mut r,
                front_end,
                58_000 + (i * 2 + f) as u16,
                rtu(i),
                PORT,
                None,
                Class::Iec104,
            );
            let mut measurands = [0f32; 8];
            for v in &mut measurands {
                *v = r.range(100, 4_000) as f32 / 10.0;
            }
            let mut alarms = [false; 16];
            for a in &mut alarms {
                *a = r.chance(0.1);
            }
            let counters = [0; 4].map(|_: i32| r.range(10_000, 9_000_000) as i32);
            let s = Session {
                conn,
                ca: common_address(i),
                primary: f == 0,
                started: false,
                numbers: Numbers::default(),
                unacked: 0,
                last_ack: 0,
                period: r.range(400_000, 800_000),
                alarms,
                breakers: [ON; 4],
                measurands,
                counters,
                set_point: r.range(100, 300) as f32 / 10.0,
                operation: match (f, i) {
                    (0, 0) => Some(Operation::Breaker),
                    (0, 1) => Some(Operation::SetPoint),
                    _ => None,
                },
                next_operation: 0,
                rng: r,
            };
            all.push((start + rng.range(0, 900_000), Box::new(s)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp56_time_of_a_known_instant() {
        // 2026-01-05 06:00:01.500 UTC, a Monday.
        let mut out = Vec::new();
        cp56(&mut out, super::super::START_US + 1_500_000);
        // ms of the minute 1500, minute 0, hour 6, Monday (1) the 5th,
        // January, 26.
        assert_eq!(out, [0xdc, 0x05, 0, 6, 1 << 5 | 5, 1, 26]);
    }

    #[test]
    fn sequence_numbers_count_each_side_and_acknowledge_the_other() {
        let mut n = Numbers::default();
        let mut out = Vec::new();
        n.i_frame(&mut out, false, &[1]);
        n.i_frame(&mut out, false, &[1]);
        n.i_frame(&mut out, true, &[100]);
        // Station: N(S) 0 then 1, N(R) 0; front-end: N(S) 0, N(R) 2.
        assert_eq!(&out[2..6], [0, 0, 0, 0]);
        assert_eq!(&out[9..13], [2, 0, 0, 0]);
        assert_eq!(&out[16..20], [0, 0, 4, 0]);
        out.clear();
        n.s_frame(&mut out);
        assert_eq!(out, [0x68, 4, 1, 0, 4, 0]);
    }
}
