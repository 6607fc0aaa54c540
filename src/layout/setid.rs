//! What a planned tree must not hold unless it was asked for by name: files
//! that run with their owner's or group's rights (set-user-ID,
//! set-group-ID), which run-time discovery takes out of what it plans, and
//! any file it takes out for a reason of its own (a hardware helper).

use super::{Item, ItemKind, Layout};

/// The set-user-ID and set-group-ID bits.
pub(crate) const SET_ID: u32 = 0o6000;

impl Layout {
    /// Takes every file copied from the root whose mode has the
    /// set-user-ID or set-group-ID bit out of the layout; returns their
    /// paths and what they were, in path order.
    pub(crate) fn take_set_id(&mut self) -> Vec<(String, Item)> {
        let paths: Vec<String> = self
            .items
            .iter()
            .filter(|(_, i)| matches!(i.kind, ItemKind::File(_)) && i.mode & SET_ID != 0)
            .map(|(p, _)| p.clone())
            .collect();
        paths
            .into_iter()
            .filter_map(|p| self.items.remove(&p).map(|i| (p, i)))
            .collect()
    }

    /// Takes what is planned at `path` out of the layout.
    pub(crate) fn take(&mut self, path: &str) -> Option<Item> {
        self.items.remove(&super::normalise(path))
    }
}
