//! The interface's words, French first, English on request, from one catalogue
//! (`i18n/catalogue.toml`): a key names a sentence, each language gives its text, and a text
//! that counts gives its plural forms (`one`, `other`) with `{n}` where the number goes.
//! French counts 0 and 1 as singular (« 0 message », « 1 message »), English only 1.
//!
//! Templates call `tr.t("key")` and `tr.n("key", count)`. A key missing from the catalogue is
//! a test failure (see the tests below), never a blank on a page.

use std::collections::HashMap;
use std::sync::LazyLock;

use askama::filters::Safe;

use crate::html::Lang;

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Text {
    Plain(String),
    Counted { one: String, other: String },
}

#[derive(serde::Deserialize)]
struct Entry {
    fr: Text,
    en: Text,
}

static CATALOGUE: LazyLock<HashMap<String, Entry>> = LazyLock::new(|| {
    toml::from_str(include_str!("../i18n/catalogue.toml")).expect("the catalogue parses (see its test)")
});

/// The catalogue in one language, for a page. Its texts are ours, so they go into the HTML
/// as they are (`Safe`); what a user or a message wrote goes through the escaper.
#[derive(Clone, Copy, Debug)]
pub struct Tr(pub Lang);

impl Tr {
    fn text(&self, key: &str) -> Option<&'static Text> {
        let entry = CATALOGUE.get(key)?;
        Some(match self.0 {
            Lang::Fr => &entry.fr,
            Lang::En => &entry.en,
        })
    }

    /// A sentence; a mark if the catalogue lacks it (a test forbids that).
    pub fn t(&self, key: &str) -> Safe<&'static str> {
        Safe(match self.text(key) {
            Some(Text::Plain(s)) => s,
            Some(Text::Counted { other, .. }) => other,
            None => {
                tracing::error!(key, "missing from the message catalogue");
                "[?]"
            }
        })
    }

    /// A sentence that counts `n`, in the right plural form.
    pub fn n(&self, key: &str, n: impl std::borrow::Borrow<u64>) -> Safe<String> {
        let n = *n.borrow();
        let singular = match self.0 {
            Lang::Fr => n <= 1,
            Lang::En => n == 1,
        };
        let form = match self.text(key) {
            Some(Text::Counted { one, other }) => match singular {
                true => one.as_str(),
                false => other.as_str(),
            },
            Some(Text::Plain(s)) => s.as_str(),
            None => key,
        };
        Safe(form.replace("{n}", &n.to_string()))
    }

    /// A sentence with its `{name}` placeholders filled (what a person typed, an address).
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut out = self.text_of(key).to_string();
        for (name, value) in values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// The same as `t`, for Rust code that builds a sentence (a flash message).
    pub fn text_of(&self, key: &str) -> &'static str {
        self.t(key).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_each_language() {
        let (fr, en) = (Tr(Lang::Fr), Tr(Lang::En));
        assert_eq!(fr.n("count.messages", 0).0, "0 message");
        assert_eq!(fr.n("count.messages", 1).0, "1 message");
        assert_eq!(fr.n("count.messages", 2).0, "2 messages");
        assert_eq!(en.n("count.messages", 0).0, "0 messages");
        assert_eq!(en.n("count.messages", 1).0, "1 message");
    }

    /// Every entry has both languages, plural entries both forms in both, and every key a
    /// template or the code asks for exists.
    #[test]
    fn every_key_used_is_in_both_languages() {
        let raw: toml::Table = toml::from_str(include_str!("../i18n/catalogue.toml")).unwrap();
        for (key, value) in &raw {
            let entry = value.as_table().unwrap_or_else(|| panic!("{key}: not a table"));
            for lang in ["fr", "en"] {
                match entry.get(lang) {
                    Some(toml::Value::String(s)) => assert!(!s.is_empty(), "{key}.{lang} is empty"),
                    Some(toml::Value::Table(forms)) => {
                        assert!(forms.contains_key("one") && forms.contains_key("other"), "{key}.{lang}")
                    }
                    _ => panic!("{key}: no {lang} text"),
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut missing = Vec::new();
        let mut files = Vec::new();
        collect(&root.join("templates"), &mut files);
        collect(&root.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // Calls with a key, and the keys tables hold (the prefix is part of the key).
            for (call, prefix) in [
                ("tr.t(\"", ""),
                ("tr.n(\"", ""),
                ("text_of(\"", ""),
                ("fill(\"", ""),
                (".show(\"", ""),
                ("\"shortcut.", "shortcut."),
                ("\"list.", "list."),
                ("\"activation.", "activation."),
                ("\"summary.", "summary."),
                ("\"directory.kind-", "directory.kind-"),
                ("\"sandbox.", "sandbox."),
                ("\"account.", "account."),
                ("\"profile.", "profile."),
                ("\"proof.", "proof."),
                ("\"actions.", "actions."),
            ] {
                for (i, _) in text.match_indices(call) {
                    let rest = &text[i + call.len()..];
                    let key = format!("{prefix}{}", &rest[..rest.find('"').unwrap_or(0)]);
                    let key = key.as_str();
                    if key != prefix && !key.is_empty() && !CATALOGUE.contains_key(key) {
                        missing.push(format!("{}: {key}", file.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the catalogue:\n{}",
            missing.join("\n")
        );
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|e| e == "html" || e == "rs") && !path.ends_with("i18n.rs") {
                out.push(path);
            }
        }
    }
}
