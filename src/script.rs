//! Script inputs: the interpreter a `#!` line names (bundle plans it in, trace records it).

use std::path::Path;

use crate::error::{Error, Result};

/// The interpreter path of a script whose first bytes are `head`, or None
/// when it is not a script. A CRLF line end is an error, as the kernel would
/// look for an interpreter whose name ends in a carriage return.
pub fn interpreter(path: &Path, head: &[u8]) -> Result<Option<String>> {
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Ok(None);
    };
    let line = rest.split(|&b| b == b'\n').next().unwrap_or(rest);
    if line.ends_with(b"\r") {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: "the #! line ends in CRLF: the kernel would look for an interpreter \
                     named with a trailing carriage return (bad interpreter: ...^M); \
                     convert the file to LF line ends"
                .into(),
        });
    }
    let line = String::from_utf8_lossy(line);
    let interp = line.trim_start().split([' ', '\t']).next().unwrap_or("");
    if interp.is_empty() {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: "the #! line names no interpreter".into(),
        });
    }
    Ok(Some(interp.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        let p = Path::new("/s");
        assert_eq!(
            interpreter(p, b"#!/bin/sh\necho").unwrap().as_deref(),
            Some("/bin/sh")
        );
        assert_eq!(
            interpreter(p, b"#! /usr/bin/env python3 -u\n")
                .unwrap()
                .as_deref(),
            Some("/usr/bin/env")
        );
        assert_eq!(interpreter(p, b"\x7fELF").unwrap(), None);
        let e = interpreter(p, b"#!/bin/sh\r\necho").unwrap_err();
        assert!(e.to_string().contains("CRLF"), "{e}");
    }
}
