//! Mail HTML as the webmail shows it: the bounds check, then the sanitiser on what passes it.
#![no_main]

use confiance_web::webmail::sanitize::{clean, within_bounds};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    if within_bounds(&html) {
        let (out, _) = clean(&html);
        assert!(!out.to_ascii_lowercase().contains("<script"), "script survived the sanitiser");
    }
});
