//! SMTP command lines (submission and MX): the parser sees UTF-8 lines only.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = confiance_smtp::parse_command(line);
    }
});
