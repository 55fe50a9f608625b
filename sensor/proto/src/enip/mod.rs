//! EtherNet/IP (ODVA) and the CIP it carries.
//!
//! * [`encap`]: the 24-byte encapsulation header and the Common Packet
//!   Format items of SendRRData and SendUnitData.
//! * [`cip`]: CIP requests and replies, Multiple_Service_Packet and
//!   Unconnected_Send with the requests they embed.
//! * [`epath`]: the paths of requests (class, instance, attribute, tag,
//!   route, electronic key).
//! * [`codes`]: commands, item types, classes, services and statuses by name.
//!
//! These layers decode borrowed bytes and never allocate; the stream
//! framing, request pairing, events and rule fields build on them.

pub mod cip;
pub mod codes;
pub mod encap;
pub mod epath;

#[cfg(test)]
mod tests;
