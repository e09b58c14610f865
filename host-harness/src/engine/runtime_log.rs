//! The operator's log (the host's stderr), which guests write into too: their
//! stderr lines are passed on one whole line at a time with every control
//! character escaped, so a hostile value cannot forge, overwrite or hide the
//! runtime's own lines; and a trap's full account (its wasm backtrace) is logged
//! here, on lines prefixed as the runtime's, while the tenant gets one plain line.

use bytes::Bytes;
use std::io::{self, Write as _};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime::Trap;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// The longest line kept waiting for its end: a longer one is cut there.
const MAX_LINE: usize = 64 * 1024;

/// The prefix of the runtime's own lines about a trap.
const TRAP_PREFIX: &str = "textract-host: runtime: guest trap: ";

/// `text` with its control characters escaped (`\u{1b}`, `\r`, `\t`, ...): C0
/// controls, DEL, C1 controls, and the Unicode line and paragraph separators.
/// Line feeds are escaped too: call it on one line.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Guest output as log lines: each line (a `\r\n` ending counts as `\n`)
/// escaped and ended with `\n`, bytes that are not UTF-8 replaced.
pub fn escape_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let mut out = String::with_capacity(text.len() + 1);
    for line in body.split('\n') {
        out.push_str(&escape_controls(line.strip_suffix('\r').unwrap_or(line)));
        out.push('\n');
    }
    out
}

/// The guest's stderr for the CLI: the host's stderr, escaped line by line.
pub struct GuestStderr;

impl IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        // No escape sequences would get through anyway.
        false
    }
}

impl StdoutStream for GuestStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineEscaper::default())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineEscaper::default())
    }
}

/// One stream of guest output: holds a partial line until its end, the stream's
/// end, or [`MAX_LINE`].
#[derive(Default)]
struct LineEscaper {
    pending: Vec<u8>,
}

impl LineEscaper {
    fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(bytes);
        let complete = match self.pending.iter().rposition(|b| *b == b'\n') {
            Some(end) => end + 1,
            None if self.pending.len() >= MAX_LINE => self.pending.len(),
            None => return Ok(()),
        };
        let lines: Vec<u8> = self.pending.drain(..complete).collect();
        write_stderr(&escape_lines(&lines))
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rest = std::mem::take(&mut self.pending);
        write_stderr(&escape_lines(&rest))
    }
}

/// One write, so that lines of executions side by side do not interleave.
fn write_stderr(text: &str) -> io::Result<()> {
    io::stderr().lock().write_all(text.as_bytes())
}

impl Drop for LineEscaper {
    fn drop(&mut self) {
        // The stream's end: a last line without its newline still goes out.
        let _ = self.finish();
    }
}

impl OutputStream for LineEscaper {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes).map_err(stream_error)
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Whole lines are already out; a partial one waits for its end.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineEscaper {
    async fn ready(&mut self) {}
}

impl AsyncWrite for LineEscaper {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().push(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().finish())
    }
}

fn stream_error(e: io::Error) -> StreamError {
    // As Wasmtime's own stderr does: a closed pipe is a closed stream.
    if e.kind() == io::ErrorKind::BrokenPipe {
        StreamError::Closed
    } else {
        StreamError::LastOperationFailed(e.into())
    }
}

/// A trap in one plain line, for the tenant: the trap (`wasm trap: ...`) or the first line
/// of its cause. Never the backtrace (the guest's function names, addresses).
pub fn trap_reason(trap: &wasmtime::Error) -> String {
    let reason = match trap.downcast_ref::<Trap>() {
        Some(t) => t.to_string(),
        None => trap.root_cause().to_string(),
    };
    escape_controls(reason.lines().next().unwrap_or_default())
}

/// The trap's full account for the operator's log: the trap, then its wasm
/// backtrace (not the host's own stack), each line prefixed and escaped
/// (backtraces carry the guest's own function names).
pub fn trap_report(trap: &wasmtime::Error) -> String {
    let mut causes: Vec<String> = trap.chain().map(|e| e.to_string()).collect();
    causes.reverse();
    causes
        .iter()
        .flat_map(|cause| cause.lines())
        .map(|line| format!("{TRAP_PREFIX}{}\n", escape_controls(line)))
        .collect()
}

/// Logs the trap in full on stderr and returns the tenant's one-line reason.
pub fn log_trap(trap: &wasmtime::Error) -> String {
    let _ = write_stderr(&trap_report(trap));
    trap_reason(trap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("a\u{1b}[31mred\u{1b}[0m\r\tb\u{0}\u{7f}\u{85}\u{9b}2J\u{2028}c\\d é ✓"),
            "a\\u{1b}[31mred\\u{1b}[0m\\r\\tb\\0\\u{7f}\\u{85}\\u{9b}2J\\u{2028}c\\d é ✓"
        );
        assert_eq!(escape_controls("x\ny"), "x\\ny");
    }

    #[test]
    fn guest_lines_cannot_forge_the_runtime_lines() {
        assert_eq!(
            escape_lines(b"textract: started job j\ntextract: done\r\n"),
            "textract: started job j\ntextract: done\n"
        );
        // A value that tries to start a line of its own, or to erase the one it is on.
        assert_eq!(
            escape_lines(b"job \rtextract-host: egress denied: x\x1b[2K\n"),
            "job \\rtextract-host: egress denied: x\\u{1b}[2K\n"
        );
        assert_eq!(escape_lines(b"no newline \xff"), "no newline \u{fffd}\n");
        assert_eq!(escape_lines(b"a\n\nb\n"), "a\n\nb\n");
    }

    #[test]
    fn partial_lines_wait_for_their_end() {
        let mut stream = LineEscaper::default();
        stream.push(b"textract: job").unwrap();
        assert_eq!(stream.pending, b"textract: job");
        stream.push(b" 1\ntextract: next").unwrap();
        assert_eq!(stream.pending, b"textract: next");
        stream.push(&vec![b'x'; MAX_LINE]).unwrap();
        assert!(stream.pending.is_empty());
    }

    #[test]
    fn a_trap_is_one_plain_line_for_the_tenant() {
        let trap = wasmtime::Error::from(Trap::UnreachableCodeReached)
            .context("error while executing at wasm backtrace:\n    0:   0x1c2f - guest!evil\x1b[2K\n    1: 0x10 - x");
        assert_eq!(trap_reason(&trap), "wasm trap: wasm `unreachable` instruction executed");
        assert_eq!(
            trap_report(&trap),
            "textract-host: runtime: guest trap: wasm trap: wasm `unreachable` instruction executed\n\
             textract-host: runtime: guest trap: error while executing at wasm backtrace:\n\
             textract-host: runtime: guest trap:     0:   0x1c2f - guest!evil\\u{1b}[2K\n\
             textract-host: runtime: guest trap:     1: 0x10 - x\n"
        );
    }
}
