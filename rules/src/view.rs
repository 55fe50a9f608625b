//! The flow facts a rule matches on besides the event itself. Field values
//! are read from borrowed events without allocating: every field is a walk
//! over the dissector's views that hands values to a callback until it says
//! "found" ([`crate::fields::Reader`], the protocol files of
//! [`crate::protocols`]).

use std::net::IpAddr;

/// The flow facts rules match on. `src` is the client (master), `dest` the
/// server (PLC, outstation), as in EVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowInfo {
    /// EVE flow id (0 for frames outside any flow).
    pub id: u64,
    /// Client address.
    pub src: IpAddr,
    /// Client port.
    pub src_port: u16,
    /// Server address.
    pub dest: IpAddr,
    /// Server port.
    pub dest_port: u16,
}
