//! The `policy` binary: a thin shell around [`policy_engine::cli::run`].

/// Counts each Rego evaluation's memory against `--rego-memory`
/// ([`policy_engine::runtimes::rego::memory`]).
#[global_allocator]
static ALLOC: policy_engine::runtimes::rego::memory::Accounting =
    policy_engine::runtimes::rego::memory::Accounting::system();

fn main() -> std::process::ExitCode {
    policy_engine::cli::main()
}
