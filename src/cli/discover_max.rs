//! `--discover-max SIZE` (bundle, slim, tree and list --runtime): the cap on a directory that
//! run-time discovery takes whole, as typed.

/// A cap in bytes, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscoverMax(pub Option<u64>);

impl DiscoverMax {
    /// The cap the flag asks for, or the default without the flag.
    pub fn bytes(flag: Option<DiscoverMax>) -> Option<u64> {
        flag.map_or(Some(elfroot::discover::DEFAULT_MAX_TREE_BYTES), |d| d.0)
    }

    /// Reads `none` or `0` (no cap), or a size: bytes, or a number with a
    /// K, M or G suffix (KiB, MiB, GiB; `64M`, `1.5G`).
    pub fn parse(s: &str) -> Result<DiscoverMax, String> {
        let bad = || format!("{s:?}: expected a size such as 64M, 512K or 1G, or none");
        let t = s.trim().to_ascii_lowercase();
        if t == "none" {
            return Ok(DiscoverMax(None));
        }
        let t = t
            .strip_suffix("ib")
            .or_else(|| t.strip_suffix('b'))
            .unwrap_or(&t);
        let (number, unit) = match t.char_indices().last() {
            Some((at, 'k')) => (&t[..at], 1u64 << 10),
            Some((at, 'm')) => (&t[..at], 1 << 20),
            Some((at, 'g')) => (&t[..at], 1 << 30),
            _ => (t, 1),
        };
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        if !value.is_finite() || value < 0.0 || value * unit as f64 >= u64::MAX as f64 {
            return Err(bad());
        }
        let bytes = (value * unit as f64).round() as u64;
        Ok(DiscoverMax((bytes > 0).then_some(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units_and_none() {
        let p = |s: &str| DiscoverMax::parse(s).map(|d| d.0);
        assert_eq!(p("64M"), Ok(Some(64 << 20)));
        assert_eq!(p("64MiB"), Ok(Some(64 << 20)));
        assert_eq!(p("512k"), Ok(Some(512 << 10)));
        assert_eq!(p("1.5G"), Ok(Some(3 << 29)));
        assert_eq!(p("4096"), Ok(Some(4096)));
        assert_eq!(p("none"), Ok(None));
        assert_eq!(p("0"), Ok(None));
        for bad in ["", "M", "-1M", "ten", "1T", "nan"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
