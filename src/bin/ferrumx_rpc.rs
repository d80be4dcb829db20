//! `ferrumx_rpc`: sends one command to a running `ferrumx_server`'s admin RPC port, as
//! ElectrumX's `electrumx_rpc` does. See `docs/operations.md`.
//!
//! Exit status: 0 on success, 1 when the server cannot be reached or answers an error, 2 on
//! bad arguments.

use std::io::Write;
use std::process::ExitCode;

use ferrumx::admin::client::{self, Parsed};
use ferrumx::admin::peers::unix_now;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rpc_port = std::env::var("RPC_PORT").ok();
    let inv = match client::parse_args(&args, rpc_port.as_deref()) {
        Ok(Parsed::Run(inv)) => inv,
        Ok(Parsed::Help) => {
            print!("{}", client::usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ferrumx_rpc: {e} (usage: ferrumx_rpc [-p PORT] [--json] COMMAND [ARGS]; --help lists the commands)");
            return ExitCode::from(2);
        }
    };
    match client::call(&inv) {
        Ok(result) => {
            let out = client::render(&inv.method, &result, inv.json, unix_now());
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(stdout, "{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrumx_rpc: {e}");
            ExitCode::FAILURE
        }
    }
}
