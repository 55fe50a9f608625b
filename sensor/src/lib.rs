//! otwatch-sensor: turns captured frames into events and alerts.
//!
//! * [`assets`]: hosts, roles, peers and identities seen in the traffic.
//! * [`capture`]: capture back-ends (pcap/pcapng files, memory-mapped).
//! * [`detect`]: the rule engine as an output wrapper; EVE alerts; rule tests.
//! * [`learn`]: learning a baseline while the sensor runs.
//! * [`flow`]: the flow table with timeouts, caps and LRU eviction.
//! * [`plant`]: a deterministic generator of mixed plant traffic (`otwatch generate`).
//! * [`pipeline`]: decode → flows → reassembly → dissectors → output.
//! * [`eve`]: EVE-style JSON lines.
//! * [`stats`]: counters and their EVE rendering.
//! * [`replay`]: offline analysis of capture files (`otwatch replay`).
//! * [`live`]: live capture workers, signals, reloads (`otwatch sensor`).
//! * [`ship`]: EVE lines to the analyzer through a bounded on-disk spool.
//! * [`synth`]: synthetic frames and pcap files for tests and benchmarks.

pub mod assets;
pub mod capture;
pub mod community_id;
pub mod detect;
pub mod eve;
pub mod flow;
pub mod learn;
pub mod live;
pub mod pipeline;
pub mod plant;
pub mod replay;
pub mod ship;
pub mod stats;
pub mod synth;
