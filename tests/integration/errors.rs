//! Bad input: one clear line naming the file, exit 2, no panic, and the other
//! inputs still analysed.

use crate::util::*;

fn assert_one_error_line(run: &Run, file: &str, what: &str) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{}", run.stderr);
    assert!(lines[0].starts_with("elfroot: "), "{}", lines[0]);
    assert!(
        lines[0].contains(file),
        "line does not name {file}: {}",
        lines[0]
    );
    assert!(
        lines[0].contains(what),
        "line does not say {what}: {}",
        lines[0]
    );
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn bad_inputs_get_one_line_each_and_the_rest_is_analysed() {
    let t = Tree::new();
    let good = t.exe("good", "int main(void) { return 0; }\n", &[]);
    let ls = std::fs::read(&good).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            t.write("script.sh", "#!/bin/sh\necho hi\n")
                .display()
                .to_string(),
            "not an ELF file",
        ),
        (
            t.write("short", &ls[..40]).display().to_string(),
            "truncated",
        ),
        (
            t.write("phdrs", &ls[..200]).display().to_string(),
            "malformed",
        ),
        (
            t.write("empty", "").display().to_string(),
            "not an ELF file",
        ),
        (t.s("nowhere"), "no such file"),
    ];
    t.symlink("missing-target", "dangling");
    t.symlink("loop-b", "loop-a");
    t.symlink("loop-a", "loop-b");
    let mut all = cases.clone();
    all.push((t.s("dangling"), "dangling symbolic link"));
    all.push((t.s("loop-a"), "too many levels of symbolic links"));
    for (file, what) in &all {
        let run = elfroot(&["list", file]);
        assert_eq!(run.code, 2, "{file}: {}", run.stderr);
        assert_one_error_line(&run, file, what);
    }
    // Together with a good input: one line per bad one, the good one printed, exit 2.
    let g = good.to_string_lossy().into_owned();
    let mut args = vec!["list", "--paths"];
    args.extend(all.iter().map(|(f, _)| f.as_str()));
    args.push(&g);
    let run = elfroot(&args);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), all.len(), "{}", run.stderr);
    assert!(run.stdout.contains("libc.so.6"), "{}", run.stdout);
}

#[test]
fn a_directory_is_walked_and_non_elf_files_are_skipped() {
    let t = Tree::new();
    t.exe("d/one", "int main(void) { return 0; }\n", &[]);
    t.exe("d/sub/two", "int main(void) { return 0; }\n", &[]);
    t.write("d/readme.txt", "text");
    t.write("d/sub/script", "#!/bin/sh\n");
    let run = elfroot(&["list", "--json", &t.s("d")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let doc = run.json();
    let inputs: Vec<&str> = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, [t.s("d/one"), t.s("d/sub/two")]);
}

#[test]
fn a_static_program_is_reported_as_static() {
    let t = Tree::new();
    let st = t.exe("static", "int main(void) { return 0; }\n", &["-static"]);
    let run = elfroot(&["list", &st.to_string_lossy()]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.trim(), "statically linked");
    let tree = elfroot(&["tree", &st.to_string_lossy()]);
    assert!(tree.stdout.contains("(static)"), "{}", tree.stdout);
    let doc = elfroot(&["list", "--json", &st.to_string_lossy()]).json();
    assert_eq!(doc["inputs"][0]["status"], "static");
    assert!(
        elfroot(&["list", "--paths", &st.to_string_lossy()])
            .stdout
            .is_empty()
    );
}

#[test]
fn usage_errors_exit_2_and_json_has_a_schema_version() {
    assert_eq!(elfroot(&["list"]).code, 2);
    assert_eq!(elfroot(&["frobnicate"]).code, 2);
    let run = elfroot(&["list", "--root", "/nonexistent-root", "/bin/sh"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent-root"), "{}", run.stderr);
    let doc = elfroot(&["tree", "--json", "/bin/sh"]).json();
    assert_eq!(doc["schema"], "elfroot-report");
    assert_eq!(doc["schema_version"], 1);
}

#[test]
fn output_is_deterministic() {
    let a = elfroot(&["list", "--json", "/usr/bin"]);
    let b = elfroot(&["list", "--json", "/usr/bin"]);
    assert_eq!(a.stdout, b.stdout);
    assert!(a.stdout.len() > 1000);
}
