//! The `policy` binary: a thin shell around [`policy_engine::cli::run`].

fn main() -> std::process::ExitCode {
    policy_engine::cli::main()
}
