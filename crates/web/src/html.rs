//! What the pages share below the templates: the language, the escaper every template writes
//! through, and query-string encoding.

/// The language of a page: French first, English on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// The BCP 47 code (`<html lang>`, `?lang=`, the language cookie).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language a page's switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// Its name in itself, as a language switch shows it.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::En => "English",
        }
    }
}

/// The templates' HTML escaper (see `askama.toml`): `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#39;`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Escaper;

impl askama::filters::Escaper for Escaper {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, string: &str) -> std::fmt::Result {
        let mut last = 0;
        for (i, b) in string.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&string[last..i])?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(&string[last..])
    }
}

/// `text` escaped as the templates escape it, for markup written outside a template (XML).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    askama::filters::Escaper::write_escaped_str(&Escaper, &mut out, text).expect("a String takes any text");
    out
}

/// Percent-encodes a query-string value.
pub fn url_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut out = String::new();
        askama::filters::Escaper::write_escaped_str(&Escaper, &mut out, r#"<a href="x">O'Neill & co</a>"#).unwrap();
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;O&#39;Neill &amp; co&lt;/a&gt;");
        assert_eq!(url_value("é a&b"), "%C3%A9+a%26b");
    }
}
