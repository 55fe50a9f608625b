//! Link, network and transport header decoding for every supported link type
//! (the first byte picks it), and decoding of a transport payload alone.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otwatch_proto::wire::{self, LinkType};

const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Ipv4,
    LinkType::Ipv6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(mode) % LINKS.len()];
    if let Ok(packet) = wire::decode(link, rest) {
        if let Some(ip) = packet.ip {
            let _ = format!("{ip:?} {:?}", packet.transport);
        }
    }
});
