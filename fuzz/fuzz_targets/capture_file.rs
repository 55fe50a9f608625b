//! The capture-file reader (pcap and pcapng, every link type) on arbitrary
//! file contents: it walks what it can and stops with a typed error, never a
//! panic, and never hands out a frame outside the file.
#![no_main]
use std::io::Write;

use libfuzzer_sys::fuzz_target;
use otwatch_sensor::capture::file::CaptureFile;

fuzz_target!(|data: &[u8]| {
    let Ok(mut tmp) = tempfile_in_shm() else {
        return;
    };
    if tmp.1.write_all(data).is_err() || tmp.1.flush().is_err() {
        return;
    }
    if let Ok(file) = CaptureFile::open(&tmp.0) {
        let mut bytes = 0usize;
        let _ = file.walk(&mut |frame, _offset| {
            bytes += frame.data.len();
        });
        assert!(bytes <= data.len());
    }
    let _ = std::fs::remove_file(&tmp.0);
    tmp.0.clear();
});

/// A fresh file in /dev/shm (or the temp dir), named after this process.
fn tempfile_in_shm() -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("otwatch-fuzz-capture-{}.pcap", std::process::id()));
    let file = std::fs::File::create(&path)?;
    Ok((path, file))
}
