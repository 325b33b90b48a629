//! Progress bars on standard error for long offline work, only when it is
//! a terminal (logs and pipes stay clean).
use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar, or nothing when standard error is not a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// Bytes of a capture file (its size when known).
    pub fn file(path: &Path) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let len = std::fs::metadata(path).map(|m| m.len()).ok();
        let pb = match len {
            Some(n) if path.as_os_str() != "-" => ProgressBar::new(n),
            _ => ProgressBar::no_length(),
        };
        pb.set_style(
            ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_message(super::capture_name(path));
        Progress(Some(pb))
    }

    /// A count of items (`what`: their name), total set later.
    pub fn items(what: &'static str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_message(what);
        Progress(Some(pb))
    }

    /// Sets the total.
    pub fn set_total(&self, n: u64) {
        if let Some(pb) = &self.0 {
            pb.set_length(n);
        }
    }

    /// Sets the position.
    pub fn set(&self, n: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(n);
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(pb) = self.0 {
            pb.finish_and_clear();
        }
    }
}
