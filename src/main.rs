//! The `attentiond` binary: parses arguments and hands over to the CLI.

fn main() -> std::process::ExitCode {
    attentiond::cli::main()
}
