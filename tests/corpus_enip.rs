//! EtherNet/IP decoding checked against tshark on real captures: per file,
//! our message counts per encapsulation command, and our CIP message counts
//! per service (requests and replies, those embedded in
//! Multiple_Service_Packet and Unconnected_Send included), equal tshark's,
//! or the difference is explained here, file by file.
//!
//! Method: tshark decodes every frame (`tcp.analyze_sequence_numbers:FALSE`),
//! minus the frames its TCP analysis calls retransmissions. `enip.command`
//! occurs once per encapsulation message; `cip.sc` (the service without the
//! reply bit) once per CIP message, embedded ones included.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

/// What differs from tshark in one file: commands, services, why.
type Explained = (BTreeMap<u64, i64>, BTreeMap<u64, i64>, &'static str);

/// Files where otwatch and tshark differ (ours − tshark per code), and
/// why. Every other file must match exactly.
fn explained(file: &str) -> Explained {
    match file {
        "emre_special_cip.pcap" => (
            BTreeMap::from([(0x70, 2)]),
            BTreeMap::from([(0x4c, 2)]),
            "the capture recorded the client's acknowledgement of two replies (frames 228 and \
             231) before the replies themselves (frames 229 and 232); tshark then calls the \
             replies retransmissions and does not dissect them; they are the only copies and \
             otwatch decodes them (two SendUnitData messages, two Read_Tag replies)",
        ),
        _ => (BTreeMap::new(), BTreeMap::new(), ""),
    }
}

fn check(path: &Path, failures: &mut Vec<String>) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let report = common::replay_file(path);
    assert!(report.error.is_none(), "{name}: {:?}", report.error);
    let skip = common::retransmitted_frames(path);
    let commands = common::our_prefixed_counts(&report, "enip", "");
    let their_commands = common::tshark_field_counts(path, "enip", "enip.command", &skip);
    let services = common::our_prefixed_counts(&report, "enip", "service:");
    let their_services = common::tshark_field_counts(path, "enip", "cip.sc", &skip);
    let (want_commands, want_services, why) = explained(&name);
    let diff_commands = common::difference(&commands, &their_commands);
    let diff_services = common::difference(&services, &their_services);
    if diff_commands != want_commands || diff_services != want_services {
        failures.push(format!(
            "{name}:\n  commands ours {commands:?}\n  tshark {their_commands:?}\n  difference {diff_commands:?}, explained {want_commands:?}\n  services ours {services:?}\n  tshark {their_services:?}\n  difference {diff_services:?}, explained {want_services:?} ({why})"
        ));
    }
}

#[test]
#[ignore = "needs the public capture corpus: OTWATCH_PCAP_CORPUS (scripts/test runs it)"]
fn enip_command_and_service_counts_match_tshark_on_the_corpus() {
    let corpus = common::corpus();
    let mut failures = Vec::new();
    let mut files = common::captures_in(&corpus.join("enip"));
    files.extend(common::captures_in(&corpus.join("mixed")));
    assert!(files.len() >= 19, "expected the EtherNet/IP corpus");
    for file in &files {
        check(file, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
