//! Hardware helpers: a file found by discovery (a program a library or
//! program names, a plugin in a named directory) whose closure needs a
//! library that only talks to devices (USB, FIDO security keys, smart card
//! readers, HID, udev's device enumeration), when the inputs' own closures
//! do not, is left out unless asked (`--add`), with a warning.
//!
//! Such a helper only works in a container given the device by hand
//! (`--device`, a udev socket), and one who does that knows what to add:
//! ssh names ssh-sk-helper, which drives FIDO keys through libfido2 and
//! libudev, and takes half a megabyte of libraries ssh itself never loads.
//! A program that talks to devices itself (its own closure has such a
//! library) keeps every helper: the container is meant to have them.

use std::path::Path;

use super::{Discovery, Why};
use crate::closure::Closure;

/// Libraries for device access only: (file name prefix, what they reach).
const DEVICE_LIBRARIES: &[(&str, &str)] = &[
    ("libfido2.so", "FIDO security keys"),
    ("libpcsclite.so", "smart card readers"),
    ("libusb-1.0.so", "USB devices"),
    ("libusb-0.1.so", "USB devices"),
    ("libhidapi-", "HID devices"),
    ("libudev.so", "udev's device list"),
];

/// A device library: its file name and what it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Device {
    /// The library's file name as the loader asks for it (`libfido2.so.1`).
    pub library: String,
    /// What it reaches (`FIDO security keys`).
    pub reaches: &'static str,
}

/// What `path` (a library's path or name) reaches, when it is a device
/// library.
fn reaches(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    DEVICE_LIBRARIES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, what)| *what)
}

impl Discovery<'_> {
    /// True (and recorded as left out) when `closure`, that of the file at
    /// `path` found for `reason`, needs a device library the inputs do not.
    pub(super) fn hardware(&mut self, path: &str, reason: &str, closure: &Closure) -> bool {
        let Some(Device { library, reaches }) = self.device_library(closure) else {
            return false;
        };
        self.leave_out(path.into(), reason.into(), Why::Device { library, reaches });
        true
    }

    /// The first device library `found` (the closure of a file discovery
    /// found) needs that no input's closure has, if any.
    fn device_library(&self, found: &Closure) -> Option<Device> {
        let inputs_have = |real: &Path| {
            self.inputs
                .iter()
                .any(|c| c.objects.iter().any(|o| o.real == real))
        };
        found.objects.iter().find_map(|o| {
            let reaches = reaches(&o.path)?;
            (!inputs_have(&o.real)).then(|| Device {
                library: o.path.rsplit('/').next().unwrap_or(&o.path).to_string(),
                reaches,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_libraries_by_their_names() {
        assert_eq!(reaches("libfido2.so.1"), Some("FIDO security keys"));
        assert_eq!(
            reaches("/usr/lib/x86_64-linux-gnu/libudev.so.1"),
            Some("udev's device list")
        );
        assert_eq!(reaches("libhidapi-hidraw.so.0"), Some("HID devices"));
        assert_eq!(reaches("libusb-1.0.so.0"), Some("USB devices"));
        // Not device libraries, whatever their names hold.
        for other in [
            "libcrypto.so.3",
            "libusbmuxd-2.0.so.6",
            "libsystemd.so.0",
            "/usr/lib/libudev/plugin.so",
        ] {
            assert_eq!(reaches(other), None, "{other}");
        }
    }
}
