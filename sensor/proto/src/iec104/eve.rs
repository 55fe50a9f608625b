//! The EVE `iec104` object of one APDU: plain serialization into a
//! [`JsonWriter`], no I/O.
//!
//! `apci` holds the format (`I`, `S`, `U`) with the sequence numbers or the
//! U function; an I-format APDU's `asdu` holds the type id and its name,
//! the variable structure qualifier, the cause with its name and the
//! negative and test bits, the originator and common addresses, and the
//! information objects (address, value, quality, command qualifier and
//! select/execute, time tag), at most a given number with the count of
//! those left out.

use super::apci::{Apci, Control};
use super::asdu::{Asdu, Element, Value};
use super::session::{Settled, Side};
use super::Transaction;
use crate::json::JsonWriter;

impl Transaction<'_> {
    /// Writes the body of the EVE `iec104` object.
    pub fn write_eve(&self, w: &mut JsonWriter<'_>) {
        w.field_str(
            "direction",
            match self.side {
                Side::Controlling => "control",
                Side::Controlled => "monitor",
            },
        );
        write_apci(w, &self.apci);
        match &self.asdu {
            Some(Ok(asdu)) => write_asdu(w, asdu, self.max_objects),
            Some(Err(err)) => {
                w.key("asdu").begin_object();
                w.key("error").display(err);
                w.field_hex("raw", self.apdu.get(super::apci::APCI_LEN..).unwrap_or_default());
                w.end_object();
            }
            None => {}
        }
        if let Some(settled) = self.command {
            w.key("command").begin_object();
            match settled {
                Settled::Confirmed { after_us, negative } => {
                    w.field_str("response", if negative { "negative" } else { "confirmed" });
                    w.key("after_ms").f64(after_us as f64 / 1000.0);
                }
                Settled::Terminated { after_us } => {
                    w.field_str("response", "terminated");
                    w.key("after_ms").f64(after_us as f64 / 1000.0);
                }
                Settled::Unexpected => {
                    w.field_str("response", "unexpected");
                }
            }
            w.end_object();
        }
    }
}

/// Writes the `apci` object.
pub fn write_apci(w: &mut JsonWriter<'_>, apci: &Apci) {
    w.key("apci").begin_object();
    w.field_str("type", apci.control.format());
    w.field_u64("length", u64::from(apci.length));
    match apci.control {
        Control::I { send, receive } => {
            w.field_u64("send_seq", u64::from(send));
            w.field_u64("recv_seq", u64::from(receive));
        }
        Control::S { receive } => {
            w.field_u64("recv_seq", u64::from(receive));
        }
        Control::U { octet } => {
            match apci.control.u_function() {
                Some(f) => w.field_str("function", f.name()),
                None => w.field_str("function", "unknown"),
            };
            w.field_u64("control", u64::from(octet));
        }
    }
    w.end_object();
}

/// Writes the `asdu` object, with at most `max_objects` objects.
pub fn write_asdu(w: &mut JsonWriter<'_>, asdu: &Asdu<'_>, max_objects: usize) {
    w.key("asdu").begin_object();
    w.field_enum("type_id", "type_name", asdu.type_id);
    w.field_bool("sequence", asdu.sequence);
    w.field_u64("count", u64::from(asdu.count));
    w.field_enum("cause", "cause_name", asdu.cause);
    w.field_bool("negative", asdu.negative);
    w.field_bool("test", asdu.test);
    w.field_u64("originator", u64::from(asdu.originator));
    w.field_u64("common_address", u64::from(asdu.common_address));
    w.key("objects").begin_array();
    let mut written = 0usize;
    for o in asdu.objects() {
        if written == max_objects {
            break;
        }
        written += 1;
        w.begin_object();
        w.field_u64("ioa", u64::from(o.ioa));
        match Element::decode(asdu.type_id, o.element) {
            Some(e) => write_element(w, &e),
            None => {
                w.field_hex("raw", o.element);
            }
        }
        w.end_object();
    }
    w.end_array();
    let cut = usize::from(asdu.count).saturating_sub(written);
    if cut > 0 {
        w.field_u64("objects_cut", cut as u64);
    }
    w.end_object();
}

fn write_element(w: &mut JsonWriter<'_>, e: &Element) {
    match e.value {
        Value::Bool(v) => {
            w.field_bool("value", v);
        }
        Value::Int(v) => {
            w.key("value").i64(v);
        }
        Value::Float(v) => {
            w.key("value").f64(v);
        }
        Value::Bits(v) => {
            w.field_u64("value", u64::from(v));
        }
        Value::Counter { value, sequence } => {
            w.key("value").i64(i64::from(value));
            w.field_u64("counter_sequence", u64::from(sequence));
        }
        Value::None => {}
    }
    if let Some(q) = e.quality {
        w.field_u64("quality", u64::from(q));
        // IV, NT, SB, BL, OV: the bits an analyst reads first.
        if q & 0x80 != 0 {
            w.field_bool("invalid", true);
        }
    }
    if let Some(q) = e.qualifier {
        w.field_u64("qualifier", u64::from(q));
    }
    if let Some(s) = e.select {
        w.field_bool("select", s);
    }
    if let Some(t) = e.time56 {
        w.key("time").display(t);
        if t.invalid {
            w.field_bool("time_invalid", true);
        }
    } else if let Some(t) = e.time24 {
        w.key("time").display(format_args!(
            "{:02}:{:02}.{:03}",
            t.minute,
            t.millis / 1000,
            t.millis % 1000
        ));
        if t.invalid {
            w.field_bool("time_invalid", true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(f: impl FnOnce(&mut JsonWriter<'_>)) -> serde_json::Value {
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        f(&mut w);
        w.end_object();
        serde_json::from_slice(&buf).expect("JSON")
    }

    #[test]
    fn an_apdu_renders_with_its_objects_capped() {
        // diverse_090813.pcap: M_ME_NC_1, two floats (IOA 1300, 1301).
        let b = [
            0x68, 0x1a, 0x9a, 0x00, 0x28, 0x00, // APCI: I, N(S) 77, N(R) 20
            0x0d, 0x02, 0x01, 0x00, 0x03, 0x00, // type 13, 2 objects, periodic, CA 3
            0x14, 0x05, 0x00, 0x00, 0x00, 0xf0, 0x41, 0x00, // 1300: 30.0, QDS 0
            0x15, 0x05, 0x00, 0x00, 0x00, 0x31, 0x44, 0x80, // 1301: 708.0, invalid
        ];
        let apci = Apci::read(&b).expect("six").expect("valid");
        let asdu = Asdu::parse(&b[6..]).expect("asdu");
        let v = json(|w| {
            write_apci(w, &apci);
            write_asdu(w, &asdu, 1);
        });
        assert_eq!(v["apci"]["type"], "I");
        assert_eq!(v["apci"]["send_seq"], 77);
        assert_eq!(v["asdu"]["type_name"], "M_ME_NC_1");
        assert_eq!(v["asdu"]["cause_name"], "periodic");
        assert_eq!(v["asdu"]["objects"][0]["ioa"], 1300);
        assert_eq!(v["asdu"]["objects"][0]["value"], 30.0);
        assert_eq!(v["asdu"]["objects_cut"], 1);
        let all = json(|w| write_asdu(w, &asdu, 64));
        assert_eq!(all["asdu"]["objects"][1]["invalid"], true);
        assert!(all["asdu"].get("objects_cut").is_none());
    }

    #[test]
    fn a_u_frame_names_its_function() {
        let apci = Apci::read(&[0x68, 4, 0x13, 0, 0, 0])
            .expect("six")
            .expect("valid");
        let v = json(|w| write_apci(w, &apci));
        assert_eq!(v["apci"]["type"], "U");
        assert_eq!(v["apci"]["function"], "stopdt_act");
    }
}
