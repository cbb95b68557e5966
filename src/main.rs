//! The `attentiond` binary: parses arguments and hands over to the CLI.

/// The pipeline and a rescore allocate many small records; mimalloc does that
/// markedly faster than the system allocator (see `benches/rescore.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    attentiond::cli::main()
}
