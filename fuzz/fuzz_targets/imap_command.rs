//! IMAP command lines as a client sends them: framing (literals, limits), then the parser.
#![no_main]

use confiance_imap::proto::command::parse_command;
use confiance_imap::proto::framing::{Frame, Limits, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Frame::Complete(n) = frame(data, 0, &limits) {
        let _ = parse_command(&data[..n]);
    }
    let _ = parse_command(data);
});
