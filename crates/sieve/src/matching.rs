//! Comparators and match types (RFC 5228 §2.7.1, §2.7.3). Only the two comparators every
//! implementation must have are supported: `i;octet` (exact) and `i;ascii-casemap` (ASCII
//! letters folded, everything else exact; the default). `:matches` works on characters, so
//! that `?` stands for one accented letter, and runs without recursion (see [`glob`]).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Octet,
    AsciiCasemap,
}

impl Comparator {
    /// The comparator a `:comparator` argument names, if supported.
    pub(crate) fn named(name: &str) -> Option<Comparator> {
        match name.to_ascii_lowercase().as_str() {
            "i;octet" => Some(Comparator::Octet),
            "i;ascii-casemap" => Some(Comparator::AsciiCasemap),
            _ => None,
        }
    }

    fn same(self, a: char, b: char) -> bool {
        match self {
            Comparator::Octet => a == b,
            Comparator::AsciiCasemap => a.eq_ignore_ascii_case(&b),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchType {
    Is,
    Contains,
    Matches,
}

/// Whether `value` matches `key` under the comparator and the match type.
pub(crate) fn compare(cmp: Comparator, mt: MatchType, value: &str, key: &str) -> bool {
    match (mt, cmp) {
        (MatchType::Is, Comparator::Octet) => value == key,
        (MatchType::Is, Comparator::AsciiCasemap) => value.eq_ignore_ascii_case(key),
        (MatchType::Contains, Comparator::Octet) => value.contains(key),
        // Folding ASCII letters keeps both strings valid UTF-8 and their bytes aligned.
        (MatchType::Contains, Comparator::AsciiCasemap) => {
            value.to_ascii_lowercase().contains(&key.to_ascii_lowercase())
        }
        (MatchType::Matches, _) => glob(cmp, value, key),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pat {
    Char(char),
    One,
    Any,
}

/// `:matches`: `*` is any sequence, `?` one character, `\` makes the next one literal.
///
/// The classic iterative two-pointer algorithm: on a mismatch, go back to just after the last
/// `*` and let it swallow one more character. Only the last star matters (an earlier one can
/// never need to give back what a later one could take), so the work is bounded by
/// text length × pattern length, never exponential, and the stack is not used.
fn glob(cmp: Comparator, value: &str, key: &str) -> bool {
    let mut pattern = Vec::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        pattern.push(match c {
            '*' => Pat::Any,
            '?' => Pat::One,
            // A trailing backslash escapes nothing: it stands for itself.
            '\\' => Pat::Char(chars.next().unwrap_or('\\')),
            c => Pat::Char(c),
        });
    }
    let text: Vec<char> = value.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Pat::One) => {
                p += 1;
                t += 1;
            }
            Some(Pat::Char(c)) if cmp.same(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            Some(Pat::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|pat| *pat == Pat::Any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Comparator::*;
    use MatchType::*;

    #[test]
    fn is_and_contains() {
        assert!(compare(AsciiCasemap, Is, "Hello", "hELLO"));
        assert!(!compare(Octet, Is, "Hello", "hello"));
        assert!(compare(AsciiCasemap, Contains, "Re: URGENT matter", "urgent"));
        assert!(!compare(Octet, Contains, "Re: URGENT matter", "urgent"));
        assert!(compare(Octet, Contains, "abc", ""));
        // Only ASCII folds: É and é differ even under ascii-casemap.
        assert!(!compare(AsciiCasemap, Is, "Été", "été"));
        assert!(compare(AsciiCasemap, Is, "éTÉ", "éTÉ"));
    }

    #[test]
    fn matches_wildcards_and_escapes() {
        assert!(compare(AsciiCasemap, Matches, "[SPAM] buy now", "[spam]*"));
        assert!(compare(AsciiCasemap, Matches, "été", "?t?"));
        assert!(!compare(AsciiCasemap, Matches, "ét", "?t?"));
        assert!(compare(AsciiCasemap, Matches, "", "*"));
        assert!(!compare(AsciiCasemap, Matches, "", "?"));
        assert!(compare(AsciiCasemap, Matches, "abcabd", "*ab?"));
        assert!(compare(AsciiCasemap, Matches, "a*b", "a\\*b"));
        assert!(!compare(AsciiCasemap, Matches, "axb", "a\\*b"));
        assert!(compare(AsciiCasemap, Matches, "what?", "what\\?"));
        assert!(!compare(AsciiCasemap, Matches, "whats", "what\\?"));
        assert!(compare(AsciiCasemap, Matches, "a\\", "a\\"));
        assert!(compare(Octet, Matches, "mississippi", "m*iss*ppi"));
        assert!(!compare(Octet, Matches, "Mississippi", "m*"));
        assert!(compare(AsciiCasemap, Matches, "x@Example.COM", "*@example.com"));
    }

    #[test]
    fn pathological_pattern_finishes() {
        let text = "a".repeat(10_000);
        assert!(!compare(AsciiCasemap, Matches, &text, "*a*a*a*a*a*a*a*a*b"));
        assert!(compare(AsciiCasemap, Matches, &(text + "b"), "*a*a*a*a*a*a*a*a*b"));
    }

    #[test]
    fn comparator_names() {
        assert_eq!(Comparator::named("I;OCTET"), Some(Octet));
        assert_eq!(Comparator::named("i;ascii-casemap"), Some(AsciiCasemap));
        assert_eq!(Comparator::named("i;ascii-numeric"), None);
    }
}
