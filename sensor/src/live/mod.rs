//! Live capture: worker threads, each with its own capture ring and its own
//! [`Pipeline`] (its own flows), signals, reloads and counters.
//!
//! The pieces, in the order a sensor uses them:
//!
//! 1. [`Capture::open`] opens one capture source per worker (as root): an
//!    AF_PACKET TPACKET_V3 ring per worker joined in one fanout group (the
//!    default), or a libpcap handle per worker (feature `libpcap`, with BPF
//!    filters). The kernel spreads flows over the workers with a symmetric
//!    hash, so each worker sees both directions of its flows.
//! 2. [`drop_privileges`] switches to an unprivileged user; the open sockets
//!    keep working.
//! 3. [`Signals::install`] turns SIGINT/SIGTERM into a shutdown request and
//!    SIGHUP into a reload request, both read by the caller's tick.
//! 4. [`run`] starts the workers, calls the caller's tick on this thread every
//!    [`LiveConfig::poll`], and on shutdown lets each worker drain its ring,
//!    end its flows ([`Pipeline::finish`]) and flush its output, then returns
//!    every output and a [`LiveReport`].
//! 5. [`LiveReporter`], called from the tick, writes `stats` and `asset`
//!    lines every [`LiveConfig::report_interval`], and the last ones at the
//!    end.
//!
//! A worker whose ring stays empty for a poll interval runs its pipeline's
//! idle-flow sweep ([`Pipeline::tick`]) with the current time in the
//! frames' time base, so flows on a quiet network still time out. Every
//! report interval it hands its open flows and gathered observations to its
//! output ([`LiveOutput::active_flow`], [`LiveOutput::report`]) and
//! publishes its counters ([`Control::stats`]).
//!
//! Each worker needs its own [`Output`]: `run` takes a factory. Outputs are
//! [`LiveOutput`]s: they can be flushed (a worker flushes when idle and every
//! `poll`) and can take a new configuration between two packets
//! ([`Control::publish`]; for [`SensorOutput`] a new ruleset), which is how
//! SIGHUP reloads rules without stopping capture. A worker looks at the
//! published version once per ring block (an atomic load): no lock on the hot
//! path.
//!
//! [`SensorOutput`] is the output of `otwatch sensor` and `otwatch run
//! --iface` (and, in [`OfflineSensor`](crate::replay::OfflineSensor), of
//! every offline run): the rule engine, EVE lines to one shared writer ([`EveSink`],
//! written in whole per-worker batches under a mutex), alerts to the
//! analyzer ([`Shipper`]) and the hosts seen. The workers' outputs share a
//! [`SensorShared`]: the rules' threshold windows and the asset table, each
//! behind a lock taken only when a thresholded rule matched or at a report.
//!
//! ```no_run
//! use std::sync::Arc;
//! use otwatch_sensor::detect::rules::Ruleset;
//! use otwatch_sensor::eve::EventFilter;
//! use otwatch_sensor::assets::AssetLimits;
//! use otwatch_sensor::live::{
//!     self, Capture, Control, EveSink, EveTee, LiveConfig, LiveReporter, LiveStatsLine,
//!     SensorOutput, SensorShared, Signals,
//! };
//! use otwatch_sensor::pipeline::PipelineConfig;
//!
//! let rules = Arc::new(Ruleset::bundled().expect("bundled rules"));
//! let mut config = LiveConfig::new("eth1");
//! config.workers = 2;
//! let capture = Capture::open(&config).expect("capture");      // as root
//! live::drop_privileges("nobody").expect("privilege drop");
//! let signals = Signals::install().expect("signals");
//! let eve = EveSink::new(Box::new(std::io::stdout()));
//! let shared = SensorShared::new(AssetLimits::default());
//! let line = LiveStatsLine {
//!     iface: "eth1".into(),
//!     backend: config.backend.name(),
//!     workers: capture.workers(),
//!     kernel: Default::default(),
//! };
//! let tee = EveTee::new(Some((eve.clone(), EventFilter::all())), None);
//! let mut reporter = LiveReporter::new(tee, shared.assets.clone(), line, config.report_interval);
//! let control = Control::new(rules.clone());
//! let (outputs, report) = live::run(
//!     capture,
//!     PipelineConfig::default(),
//!     |_worker| {
//!         let eve = Some((eve.clone(), EventFilter::all()));
//!         SensorOutput::new(rules.clone(), eve, None, &shared)
//!     },
//!     &control,
//!     |control| {
//!         if signals.terminated() {
//!             control.shutdown();
//!         }
//!         if signals.take_hangup() {
//!             if let Ok(set) = Ruleset::bundled() {
//!                 control.publish(Arc::new(set));
//!             }
//!         }
//!         reporter.tick(control);
//!     },
//! );
//! for output in outputs {
//!     if let Some(mut tee) = output.into_tee() {
//!         let _ = tee.finish();
//!     }
//! }
//! let _ = reporter.finish(&report);
//! eprintln!("{} packets, {} kernel drops", report.stats.packets, report.kernel.drops);
//! ```
//!
//! The code is split by job: capture opening (`capture.rs`), the
//! worker loop (`worker.rs`), the control plane (`control.rs`), the outputs
//! (`output.rs`) and reporting (`report.rs`).
//!
//! [`Pipeline`]: crate::pipeline::Pipeline
//! [`Pipeline::finish`]: crate::pipeline::Pipeline::finish
//! [`Pipeline::tick`]: crate::pipeline::Pipeline::tick
//! [`Output`]: crate::pipeline::Output
//! [`Shipper`]: crate::ship::Shipper

mod capture;
mod control;
mod output;
mod report;
mod worker;

pub use crate::capture::afpacket::{drop_privileges, Credentials};

pub use capture::{lookup_user, Backend, Capture, LiveConfig, LiveError};
pub use control::{Control, LiveCounters, Signals, WorkerCounters};
pub use output::{
    ship_filter, EveBatch, EveSink, EveTee, MemoryLines, SensorOutput, SensorShared, ShipLines,
    EVE_BATCH_BYTES,
};
pub use report::{now, write_stats_line, LiveReport, LiveReporter, LiveStatsLine, WorkerReport};
pub use worker::{run, LiveOutput};

pub(crate) use report::per_second;
