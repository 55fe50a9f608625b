//! IEC 60870-5-104: the APCI framing and the ASDUs it carries.
//!
//! * [`apci`]: start byte, length, the I/S/U control field with its
//!   sequence numbers and U functions, framing checks, probe and
//!   resynchronisation.
//! * [`asdu`]: the data unit identifier (type, variable structure
//!   qualifier, cause with its negative and test bits, originator, common
//!   address), the information objects, and every standard element
//!   decoded (points, step positions, bitstrings, measured values,
//!   integrated totals, protection events, commands with select/execute
//!   and qualifiers, set points, system and parameter commands) with its
//!   quality and CP24/CP56 time tag.
//! * [`codes`]: type identifications and causes of transmission by name.
//! * [`eve`]: the EVE `iec104` object of an APDU.
//! * [`session`]: what a connection keeps between APDUs: each side's
//!   sequence numbers (gaps, duplicates, acknowledgements beyond what was
//!   sent, window overruns), the data transfer state, and the commands
//!   waiting for their confirmation.
//!
//! These layers decode borrowed bytes and never allocate; the stream
//! dissector, sequence-number checks, command pairing, events and rule
//! fields build on them.

pub mod apci;
pub mod asdu;
pub mod codes;
pub mod eve;
pub mod session;

#[cfg(test)]
mod tests;
