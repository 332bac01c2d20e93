//! Mail HTML made safe to show inside the page: no script, no style sheet, no event handler,
//! no form, no frame, and no remote content — a remote image would tell the sender when and
//! where the message is read (tracking). Links open apart, without referrer.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Embedded images the page may show: raster types only (SVG can carry script).
fn embedded_image(value: &str) -> bool {
    let v = value.trim_start().to_ascii_lowercase();
    ["data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp"]
        .iter()
        .any(|p| v.starts_with(p))
}

/// Largest HTML body sanitised; a larger one is shown as text.
const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;
/// Deepest nesting of elements sanitised: the HTML tree builder's work grows with the depth
/// times the length, and 100,000 nested `<div>` once froze every service for 11 to 30 s.
const MAX_HTML_DEPTH: usize = 256;

/// Elements that never hold content (HTML Living Standard §13.1.2), so never nest.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
];

/// Whether `html` is small and shallow enough to sanitise, in one pass over its tags. Elements
/// are followed on a stack as an HTML parser would: a non-void element opens a level even when
/// written `<div/>` (the slash means nothing there), an end tag closes up to the element it
/// names and is ignored when none is open, comments and declarations hold no element. Errs on
/// the deep side, which only means the message is shown as text.
pub fn within_bounds(html: &str) -> bool {
    if html.len() > MAX_HTML_BYTES {
        return false;
    }
    let bytes = html.as_bytes();
    let mut open: Vec<&str> = Vec::new();
    let mut i = 0usize;
    while let Some(at) = bytes[i..].iter().position(|b| *b == b'<') {
        i += at + 1;
        // Comments and declarations: skip to their end.
        if bytes[i..].starts_with(b"!--") {
            i = html[i..].find("-->").map_or(bytes.len(), |e| i + e + 3);
            continue;
        }
        let closing = bytes.get(i) == Some(&b'/');
        let start = i + usize::from(closing);
        let name_len = bytes[start..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        if name_len == 0 || !bytes[start].is_ascii_alphabetic() {
            continue;
        }
        let name = &html[start..start + name_len];
        // The tag's end, looked for no further than the next tag (no quadratic search).
        let end = bytes[start..]
            .iter()
            .position(|b| *b == b'>' || *b == b'<')
            .map_or(bytes.len(), |p| start + p);
        i = end;
        if closing {
            if let Some(level) = open.iter().rposition(|n| n.eq_ignore_ascii_case(name)) {
                open.truncate(level);
            }
        } else if !VOID.iter().any(|v| v.eq_ignore_ascii_case(name)) {
            open.push(name);
            if open.len() > MAX_HTML_DEPTH {
                return false;
            }
        }
    }
    true
}

/// The cleaned HTML, and whether remote images were dropped.
pub fn clean(html: &str) -> (String, bool) {
    let dropped = Arc::new(AtomicBool::new(false));
    let seen = dropped.clone();
    let mut builder = ammonia::Builder::default();
    builder
        .add_url_schemes(["data"])
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(move |element, attribute, value| {
            let is_url = matches!(attribute, "src" | "href" | "srcset" | "cite" | "longdesc");
            if !is_url {
                return Some(Cow::Borrowed(value));
            }
            let data = value.trim_start().to_ascii_lowercase().starts_with("data:");
            match (element, attribute) {
                ("img", "src") if embedded_image(value) => Some(Cow::Borrowed(value)),
                ("img", _) => {
                    seen.store(true, Ordering::Relaxed);
                    None
                }
                // data: is for embedded images only.
                _ if data => None,
                _ => Some(Cow::Borrowed(value)),
            }
        });
    let cleaned = builder.clean(html).to_string();
    (
        format!(r#"<div class="html">{cleaned}</div>"#),
        dropped.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn deep_or_huge_html_is_not_sanitised() {
        use super::within_bounds;
        assert!(within_bounds("<div><p>Bonjour<br>docteur</p><img src=x></div>"));
        assert!(within_bounds(&"<div>x</div>".repeat(100_000)));
        assert!(!within_bounds(&"<div>".repeat(300)));
        assert!(within_bounds(&"<div>".repeat(200)));
        assert!(!within_bounds(&"a".repeat(3 * 1024 * 1024)));
        // What a parser nests all the same: self-closed divs, stray end tags.
        assert!(!within_bounds(&"<div/>".repeat(300)));
        assert!(!within_bounds(&"<div></b>".repeat(300)));
        assert!(within_bounds(&"<div></DIV>".repeat(300)));
        assert!(within_bounds(&format!("<!-- {} -->", "<div>".repeat(300))));
        // A million unclosed tags: one pass (each tag's end is looked for up to the next
        // `<`, not to the end of the text), and too deep.
        assert!(!within_bounds(&"<a".repeat(1_000_000)));
    }

    use super::clean;

    #[test]
    fn scripts_handlers_styles_and_forms_go() {
        let (out, _) = clean(
            r#"<p onclick="steal()">Bonjour<script>alert(1)</script><style>p{}</style></p>
            <form action="https://evil.example"><input name=x></form><iframe src="https://evil.example"></iframe>
            <a href="javascript:alert(1)">x</a><svg><script>alert(2)</script></svg>"#,
        );
        for bad in [
            "onclick",
            "<script",
            "alert",
            "<style",
            "<form",
            "<input",
            "<iframe",
            "javascript:",
            "<svg",
        ] {
            assert!(!out.contains(bad), "{bad} kept in {out}");
        }
        assert!(out.contains("Bonjour"));
    }

    #[test]
    fn remote_images_are_dropped_and_said() {
        let (out, dropped) = clean(r#"<img src="https://tracker.example/p.gif?id=42" alt="logo"><p>Texte</p>"#);
        assert!(dropped);
        assert!(!out.contains("tracker.example"), "{out}");
        let (out, dropped) = clean(r#"<img src="data:image/png;base64,iVBORw0KGgo=" alt="signature">"#);
        assert!(!dropped);
        assert!(out.contains("data:image/png"));
        let (out, _) = clean(r#"<img src="data:image/svg+xml;base64,PHN2Zz4=">"#);
        assert!(!out.contains("svg"), "{out}");
    }

    #[test]
    fn links_open_apart_without_referrer() {
        let (out, _) = clean(r#"<a href="https://esante.gouv.fr">ANS</a><a href="data:text/html,x">y</a>"#);
        assert!(out.contains(r#"rel="noopener noreferrer nofollow""#), "{out}");
        assert!(out.contains(r#"target="_blank""#), "{out}");
        assert!(!out.contains("data:text"), "{out}");
    }
}
