//! A message as it arrives: the MIME structure IMAP serves, the author rule, the webmail's
//! summary and mail-parser's reading of it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let part = confiance_mail::message::mime::Part::parse(data);
    let _ = part.find(&[1, 2, 1]);
    let _ = confiance_mail::message::author::author(data);
    let _ = confiance_mail::summary::summarize(data);
    if let Some(m) = mail_parser::MessageParser::default().parse(data) {
        let _ = m.body_text(0);
    }
});
