//! `elfroot list --paths` against the real ldd for every dynamic ELF program
//! in /usr/bin and /usr/sbin of this machine.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::util::*;

fn dynamic_programs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["/usr/bin", "/usr/sbin"] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Ok(meta) = fs::symlink_metadata(&p) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let Ok(bytes) = fs::read(&p) else { continue };
            if elfroot::elf::ElfFile::parse(&bytes).is_ok_and(|f| f.interp.is_some()) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn list_paths_matches_ldd_for_every_program_in_usr_bin_and_usr_sbin() {
    if !have("ldd") {
        return skip("ldd not found");
    }
    let programs = dynamic_programs();
    assert!(
        programs.len() > 50,
        "expected many programs, found {}",
        programs.len()
    );
    let mut differ = Vec::new();
    let mut compared = 0;
    for chunk in programs.chunks(64) {
        let mut args = vec!["list".to_string(), "--json".to_string()];
        args.extend(chunk.iter().map(|p| p.to_string_lossy().into_owned()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let doc = elfroot(&refs).json();
        for (input, p) in doc["inputs"].as_array().unwrap().iter().zip(chunk) {
            let out = Command::new("ldd")
                .arg(p)
                .env_remove("LD_LIBRARY_PATH")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            if text.contains("not a dynamic executable") || text.contains("statically linked") {
                assert_eq!(input["status"], "static", "{}", p.display());
                continue;
            }
            compared += 1;
            let (found, missing) = parse_ldd(&text);
            let theirs = canonical_set(&found.iter().map(String::as_str).collect::<Vec<_>>());
            let objects = input["objects"].as_array().unwrap();
            let mut mine_paths: Vec<&str> = objects
                .iter()
                .skip(1)
                .map(|o| o["path"].as_str().unwrap())
                .collect();
            if let Some(i) = input["interpreter"]["path"].as_str() {
                mine_paths.push(i);
            }
            let mine = canonical_set(&mine_paths);
            let mut mine_missing: Vec<String> = input["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            mine_missing.sort();
            mine_missing.dedup();
            let mut missing = missing;
            missing.sort();
            missing.dedup();
            if mine != theirs || mine_missing != missing {
                differ.push(format!(
                    "{}:\n  elfroot {mine:?} missing {mine_missing:?}\n  ldd     {theirs:?} missing {missing:?}",
                    p.display()
                ));
            }
        }
    }
    eprintln!("compared {compared} programs with ldd");
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
