//! The progress of long runs drawn on a terminal's stderr with indicatif:
//! a bar of bytes for a stage whose total is known, a spinner otherwise,
//! cleared when done so that the summary follows on a clean line.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use elfroot::progress::{Progress, Silent};

/// Draws the stages on stderr.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar on stderr when it is a terminal, else nothing at all.
    pub fn on_stderr() -> Box<dyn Progress> {
        if std::io::stderr().is_terminal() {
            Box::new(Bar(ProgressBar::with_draw_target(
                None,
                ProgressDrawTarget::stderr(),
            )))
        } else {
            Box::new(Silent)
        }
    }
}

impl Progress for Bar {
    fn stage(&self, what: &str, total: Option<u64>) {
        let bar = &self.0;
        match total {
            Some(total) => {
                bar.disable_steady_tick();
                bar.set_length(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            }
            None => {
                bar.unset_length();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
            }
        }
        // The count, rate and elapsed time are the stage's.
        bar.reset();
        bar.set_message(what.to_string());
    }

    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
