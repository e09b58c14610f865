//! The CLI's standard output. Rust ignores SIGPIPE, so `println!` panics when
//! the reader has gone (`textract-host run ... | head -c1`); results are written
//! here instead, where a closed pipe ends the output quietly and the exit code
//! stays the run's own.

use std::io::{self, Write as _};

/// Writes `text` and a newline to stdout, and flushes. A reader that went away
/// is not an error: it has read all it wanted.
pub fn print_line(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    quiet_on_closed_pipe(written)
}

fn quiet_on_closed_pipe(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_pipe_is_quiet() {
        assert!(quiet_on_closed_pipe(Err(io::ErrorKind::BrokenPipe.into())).is_ok());
        let full = quiet_on_closed_pipe(Err(io::ErrorKind::StorageFull.into()));
        assert_eq!(full.map_err(|e| e.kind()), Err(io::ErrorKind::StorageFull));
    }
}
