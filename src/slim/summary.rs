//! The summary `slim` ends with: files and bytes of the image before and
//! of the slimmed image after, the ratios (of the contents, and of the
//! compressed layers, which is what a registry stores and a pull moves),
//! and the ten largest kept files with why each is there.

use std::collections::HashMap;
use std::path::Path;

use crate::archive::{Entry, EntryKind, Output};
use crate::bundle::Bundle;
use crate::error::Result;
use crate::oci::{Image, Written};
use crate::outcome::size;
use crate::root::{Root, TreeKind};

/// How many of the largest kept files the summary names.
const LARGEST: usize = 10;

/// The numbers of the summary.
pub(super) struct Stats {
    files_before: u64,
    bytes_before: u64,
    layers_before: u64,
    files_after: u64,
    bytes_after: u64,
    layer_after: u64,
    digest: String,
    /// (size, path, reason), largest first.
    largest: Vec<(u64, String, String)>,
}

impl Stats {
    pub(super) fn new(
        root: &Root,
        image: &Image,
        entries: &[Entry],
        plan: &Bundle,
        written: &Written,
    ) -> Result<Stats> {
        // The names of one file (hard links) count once, before and after.
        let everything = root.walk_tree(Path::new("/"))?;
        let files_before = everything
            .iter()
            .filter(|e| e.kind == TreeKind::File)
            .count() as u64;
        let bytes_before = root.files_size(&everything);
        let mut sources = std::collections::HashSet::new();
        let mut bytes_after = 0;
        let reasons: HashMap<String, String> = plan
            .layout
            .manifest()
            .into_iter()
            .map(|m| (m.path, m.reason))
            .collect();
        let mut largest = Vec::new();
        for e in entries {
            let (size, first) = match &e.kind {
                EntryKind::File { source } => (
                    root.meta(Path::new(&e.path)).map_or(0, |m| m.size),
                    sources.insert(source),
                ),
                EntryKind::Data(d) => (d.len() as u64, true),
                _ => continue,
            };
            if first {
                bytes_after += size;
            }
            let reason = reasons.get(&e.path).cloned().unwrap_or_default();
            largest.push((size, e.path.clone(), reason));
        }
        let files_after = largest.len() as u64;
        largest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        largest.truncate(LARGEST);
        Ok(Stats {
            files_before,
            bytes_before,
            layers_before: image.layers().iter().map(|d| d.size).sum(),
            files_after,
            bytes_after,
            layer_after: written.layer_size,
            digest: written.manifest_digest.clone(),
            largest,
        })
    }

    /// The summary, one line each.
    pub(super) fn lines(&self, image: &str, output: &Output) -> Vec<String> {
        let mut out = vec![format!(
            "slimmed {image} to {output} ({}): {} files, {} -> {} files, {} ({}); \
             compressed layers {} -> {} ({})",
            self.digest,
            self.files_before,
            size(self.bytes_before),
            self.files_after,
            size(self.bytes_after),
            ratio(self.bytes_before, self.bytes_after),
            size(self.layers_before),
            size(self.layer_after),
            ratio(self.layers_before, self.layer_after),
        )];
        if !self.largest.is_empty() {
            out.push("largest kept files:".into());
        }
        for (s, path, reason) in &self.largest {
            out.push(format!("  {:>9}  {path}  ({reason})", size(*s)));
        }
        out
    }
}

/// `before/after` as `12.3x smaller`.
fn ratio(before: u64, after: u64) -> String {
    if after == 0 {
        return "all gone".into();
    }
    format!("{:.1}x smaller", before as f64 / after as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ratios_read_well() {
        assert_eq!(size(812), "812 B");
        assert_eq!(size(4096), "4.0 KiB");
        assert_eq!(size(32_715_571), "31.2 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(ratio(100, 8), "12.5x smaller");
        assert_eq!(ratio(1, 0), "all gone");
    }
}
