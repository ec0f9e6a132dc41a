//! Snapshot of every output format for one real run of the binary: built-in rules on the
//! example Dockerfile and Deployment. Reviewers see exactly what CI systems receive.

use std::path::PathBuf;
use std::process::Command;

fn run(format: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_policy"))
        .args([
            "eval",
            "examples/dockerfile/Dockerfile",
            "examples/kubernetes/deployment.yaml",
            "-f",
            format,
            "--color",
            "never",
        ])
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("run policy");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 output"),
    )
}

macro_rules! format_snapshot {
    ($name:ident, $format:literal) => {
        #[test]
        fn $name() {
            let (code, output) = run($format);
            assert_eq!(code, 1, "findings exit 1");
            // Named as when this file was a test binary of its own.
            insta::with_settings!({ prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(concat!("formats__", stringify!($name)), output);
            });
        }
    };
}

format_snapshot!(text_report, "text");
format_snapshot!(json_report, "json");
format_snapshot!(sarif_report, "sarif");
format_snapshot!(junit_report, "junit");
format_snapshot!(github_report, "github");
