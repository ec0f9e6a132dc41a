//! JSON-RPC over a byte stream with `Content-Length` framing, as LSP specifies it, but
//! forgiving where `lsp_server`'s own stdio transport is not.
//!
//! `lsp_server::Connection::stdio` stops reading at the first malformed message, and it
//! allocates whatever `Content-Length` claims before reading. An editor plugin with a bug
//! (or a fuzzer) must not take the server down, so this transport:
//!
//! - drops a frame without a valid `Content-Length` and re-synchronises on the next
//!   header, wherever it starts in a line;
//! - skips, without buffering, a body larger than [`MAX_MESSAGE_BYTES`], and caps header
//!   lines;
//! - turns a body that is not a JSON-RPC message into an internal notification
//!   ([`MALFORMED`]) so the server can log it, and answer `InvalidRequest` when the
//!   broken message still carries a request ID.
//!
//! It hands the server an ordinary [`lsp_server::Connection`], so the server never knows
//! which transport it runs on (tests use [`lsp_server::Connection::memory`]).

use std::io::{self, BufRead, Read, Write};
use std::thread;

use crossbeam_channel::{unbounded, Receiver, Sender};
use lsp_server::{Connection, Message, Notification, RequestId};

/// Largest message body read; larger ones are skipped. Buffers are limited to 16 MiB
/// before evaluation, and JSON escaping can double their size.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Longest header line kept; the rest of a longer line is discarded.
const MAX_HEADER_LINE: usize = 8 << 10;

/// Method of the internal notification that reports a message that could not be read.
/// Its params are `{"error": "...", "id": <request ID or null>}`.
pub const MALFORMED: &str = "$/policy/malformed";

/// The transport's writer thread. (The reader thread stops by itself after `exit` or at
/// the end of input; it is not joined, because when the client stops reading but keeps
/// its end of our input open, it would block forever.)
#[derive(Debug)]
pub struct IoThreads {
    writer: thread::JoinHandle<io::Result<()>>,
}

impl IoThreads {
    /// Waits until everything queued is written: call it after dropping every sender of
    /// the [`Connection`].
    pub fn join(self) -> io::Result<()> {
        self.writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the LSP writer thread panicked")))
    }
}

/// A connection over standard input and output.
pub fn stdio() -> (Connection, IoThreads) {
    transport(io::BufReader::new(io::stdin()), io::stdout())
}

/// A connection over any reader and writer.
pub fn transport<R, W>(mut input: R, mut output: W) -> (Connection, IoThreads)
where
    R: BufRead + Send + 'static,
    W: Write + Send + 'static,
{
    let (in_tx, in_rx): (Sender<Message>, Receiver<Message>) = unbounded();
    let (out_tx, out_rx): (Sender<Message>, Receiver<Message>) = unbounded();
    thread::Builder::new()
        .name("lsp-reader".into())
        .spawn(move || read_loop(&mut input, &in_tx))
        .expect("spawn the LSP reader thread");
    let writer = thread::Builder::new()
        .name("lsp-writer".into())
        .spawn(move || {
            for msg in out_rx {
                msg.write(&mut output)?;
            }
            output.flush()
        })
        .expect("spawn the LSP writer thread");
    (
        Connection {
            sender: out_tx,
            receiver: in_rx,
        },
        IoThreads { writer },
    )
}

fn read_loop(input: &mut impl BufRead, tx: &Sender<Message>) {
    loop {
        let msg = match read_frame(input) {
            Ok(Frame::Eof) | Err(_) => return,
            Ok(Frame::Dropped(why)) => malformed(why, None),
            Ok(Frame::Body(body)) => match serde_json::from_slice::<Message>(&body) {
                Ok(msg) => msg,
                Err(e) => {
                    let id = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v.get("id").cloned())
                        .and_then(|id| serde_json::from_value::<RequestId>(id).ok());
                    malformed(format!("not a JSON-RPC message: {e}"), id)
                }
            },
        };
        let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
        if tx.send(msg).is_err() || exit {
            return;
        }
    }
}

fn malformed(error: String, id: Option<RequestId>) -> Message {
    Message::Notification(Notification::new(
        MALFORMED.to_string(),
        serde_json::json!({ "error": error, "id": id }),
    ))
}

#[derive(Debug, PartialEq)]
enum Frame {
    Eof,
    Body(Vec<u8>),
    Dropped(String),
}

/// Reads one header line without its line ending; `None` at the end of input. A line
/// longer than [`MAX_HEADER_LINE`] is cut there (the rest is consumed and discarded).
fn read_line(input: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let mut read_any = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(read_any.then_some(line));
        }
        read_any = true;
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = MAX_HEADER_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        input.consume(n);
        if done {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

/// The value of a `Content-Length` header found anywhere in `line` (so that a header
/// glued to the end of a broken body still counts).
fn content_length(line: &[u8]) -> Option<Result<usize, ()>> {
    let text = String::from_utf8_lossy(line).to_ascii_lowercase();
    let at = text.rfind("content-length:")?;
    Some(
        text[at + "content-length:".len()..]
            .trim()
            .parse::<usize>()
            .map_err(|_| ()),
    )
}

fn read_frame(input: &mut impl BufRead) -> io::Result<Frame> {
    let mut length: Option<Result<usize, ()>> = None;
    let mut headers = 0usize;
    loop {
        let Some(line) = read_line(input)? else {
            return Ok(Frame::Eof);
        };
        if line.is_empty() {
            if headers == 0 {
                continue; // a stray blank line between messages
            }
            break;
        }
        headers += 1;
        if let Some(l) = content_length(&line) {
            length = Some(l);
        }
    }
    let len = match length {
        Some(Ok(len)) => len,
        Some(Err(())) => return Ok(Frame::Dropped("invalid Content-Length header".into())),
        None => return Ok(Frame::Dropped("missing Content-Length header".into())),
    };
    if len > MAX_MESSAGE_BYTES {
        io::copy(&mut input.by_ref().take(len as u64), &mut io::sink())?;
        return Ok(Frame::Dropped(format!(
            "message of {len} bytes skipped: larger than the {MAX_MESSAGE_BYTES}-byte limit"
        )));
    }
    let mut body = vec![0; len];
    input.read_exact(&mut body)?;
    Ok(Frame::Body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn frames(input: &str) -> Vec<Frame> {
        let mut r = io::Cursor::new(input.as_bytes().to_vec());
        let mut out = Vec::new();
        loop {
            match read_frame(&mut r).expect("read") {
                Frame::Eof => return out,
                f => out.push(f),
            }
        }
    }

    #[test]
    fn well_formed_frames_are_read_in_order() {
        let input = frame("{\"a\":1}") + "\r\n" + &frame("[]");
        assert_eq!(
            frames(&input),
            [
                Frame::Body(b"{\"a\":1}".to_vec()),
                Frame::Body(b"[]".to_vec())
            ]
        );
        // Other headers are ignored, the name is case-insensitive, `\n` alone is accepted.
        let input = "content-type: x\ncontent-length: 2\n\n{}";
        assert_eq!(frames(input), [Frame::Body(b"{}".to_vec())]);
    }

    #[test]
    fn broken_headers_drop_one_frame_and_resynchronise() {
        let input = "Content-Type: x\r\n\r\n{\"lost\":1}".to_string() + &frame("{}");
        let got = frames(&input);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(&got[0], Frame::Dropped(m) if m.contains("missing")));
        assert_eq!(got[1], Frame::Body(b"{}".to_vec()));
        let got = frames(&("Content-Length: -3\r\n\r\n".to_string() + &frame("{}")));
        assert!(matches!(&got[0], Frame::Dropped(m) if m.contains("invalid")));
        assert_eq!(got[1], Frame::Body(b"{}".to_vec()));
    }

    #[test]
    fn huge_frames_are_skipped_without_buffering() {
        let claimed = MAX_MESSAGE_BYTES + 1;
        let input = format!("Content-Length: {claimed}\r\n\r\n{}", "x".repeat(claimed));
        let got = frames(&(input + &frame("{}")));
        assert!(matches!(&got[0], Frame::Dropped(m) if m.contains("larger than")));
        assert_eq!(got[1], Frame::Body(b"{}".to_vec()));
        // A claim beyond the end of input ends the stream instead of allocating.
        let mut r = io::Cursor::new(b"Content-Length: 99999999999999\r\n\r\n{}".to_vec());
        assert!(matches!(read_frame(&mut r), Ok(Frame::Dropped(_))));
        assert!(matches!(read_frame(&mut r), Ok(Frame::Eof)));
    }

    #[test]
    fn long_header_lines_are_cut() {
        let long = "x".repeat(MAX_HEADER_LINE * 3);
        let mut r = io::Cursor::new(format!("{long}\r\nnext\r\n").into_bytes());
        assert_eq!(
            read_line(&mut r).expect("read").map(|l| l.len()),
            Some(MAX_HEADER_LINE)
        );
        assert_eq!(read_line(&mut r).expect("read"), Some(b"next".to_vec()));
        assert_eq!(read_line(&mut r).expect("read"), None);
    }

    #[test]
    fn garbage_becomes_malformed_notifications() {
        let input = frame("not json")
            + &frame("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":3}")
            + &frame("{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}")
            + &frame("{\"never\":\"read\"}");
        let (tx, rx) = unbounded();
        read_loop(&mut io::Cursor::new(input.into_bytes()), &tx);
        let got: Vec<Message> = rx.try_iter().collect();
        assert_eq!(got.len(), 3, "{got:?}");
        let params = |m: &Message| match m {
            Message::Notification(n) if n.method == MALFORMED => n.params.clone(),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(params(&got[0])["id"], serde_json::Value::Null);
        assert_eq!(params(&got[1])["id"], 7);
        assert!(matches!(&got[2], Message::Notification(n) if n.method == "exit"));
    }
}
