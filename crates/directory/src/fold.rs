//! How names are compared: case and accents do not count (`Hélène` = `HELENE`), hyphens and
//! apostrophes separate words (`Jean-Pierre`, `D'Artagnan`) but the joined form is also
//! indexed so `jeanpierre` and `dartagnan` find them too.

/// Lower-case ASCII letters and digits of a French text; every other character becomes a
/// space. Ligatures are spelt out (`œ` → `oe`).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ if c.is_ascii() => out.push(' '),
            _ => match base(c) {
                Some(b) => out.push_str(b),
                None => out.push(' '),
            },
        }
    }
    out
}

/// The base letters of an accented Latin letter (Latin-1 and Latin Extended-A).
fn base(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'ā' | 'ă' | 'ą' | 'Ā' | 'Ă' | 'Ą' => {
            "a"
        }
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' | 'ć' | 'č' | 'Ć' | 'Č' => "c",
        'ď' | 'Ď' | 'đ' | 'Đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => {
            "e"
        }
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'ī' | 'į' | 'ı' | 'Ī' | 'Į' | 'İ' => "i",
        'ł' | 'Ł' | 'ľ' | 'Ľ' => "l",
        'ñ' | 'Ñ' | 'ń' | 'ň' | 'Ń' | 'Ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'ō' | 'ő' | 'Ō' | 'Ő' => {
            "o"
        }
        'œ' | 'Œ' => "oe",
        'ř' | 'Ř' => "r",
        'ś' | 'š' | 'ş' | 'Ś' | 'Š' | 'Ş' => "s",
        'ß' => "ss",
        'ť' | 'Ť' | 'ţ' | 'Ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'ū' | 'ů' | 'ű' | 'Ū' | 'Ů' | 'Ű' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
        _ => return None,
    })
}

/// A text folded, its words separated by one space (`Jean-Pierre  LÉVÊQUE` → `jean pierre leveque`).
pub fn folded(s: &str) -> String {
    words(s).join(" ")
}

/// The words of a text, folded, in order.
pub fn words(s: &str) -> Vec<String> {
    fold(s).split_whitespace().map(str::to_string).collect()
}

/// The words to index for a name: each word, plus the joined form of a compound name
/// (`Jean-Pierre` → `jean`, `pierre`, `jeanpierre`). The joined form comes last.
pub fn name_terms(s: &str) -> (Vec<String>, Option<String>) {
    let words = words(s);
    let joined = (words.len() > 1).then(|| words.concat());
    (words, joined)
}

/// Edits allowed for a query word of this length: none for short words (too many neighbours),
/// one from 4 letters, two from 8.
pub fn allowed_edits(len: usize) -> u8 {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Optimal-string-alignment distance (a transposition of neighbours counts as one edit, the
/// commonest typing slip), or `None` once it exceeds `max`.
pub fn distance(a: &[u8], b: &[u8], max: u8) -> Option<u8> {
    let max = max as usize;
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let n = b.len();
    let mut prev2 = vec![0usize; n + 1];
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur = vec![0usize; n + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[n] <= max).then_some(prev[n] as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("Hélène LŒUVRE-Ça"), "helene loeuvre ca");
        assert_eq!(words("  D'Artagnan  "), vec!["d", "artagnan"]);
        assert_eq!(
            name_terms("Jean-Pierre"),
            (
                vec!["jean".to_string(), "pierre".to_string()],
                Some("jeanpierre".to_string())
            )
        );
        assert_eq!(name_terms("Anne").1, None);
    }

    #[test]
    fn distances() {
        assert_eq!(distance(b"martin", b"martin", 2), Some(0));
        assert_eq!(distance(b"mratin", b"martin", 1), Some(1));
        assert_eq!(distance(b"martn", b"martin", 1), Some(1));
        assert_eq!(distance(b"lefevre", b"lefebvre", 2), Some(1));
        assert_eq!(distance(b"dupont", b"dupond", 1), Some(1));
        assert_eq!(distance(b"durand", b"martin", 2), None);
        assert_eq!(distance(b"ab", b"abcd", 1), None);
        assert_eq!(allowed_edits(3), 0);
        assert_eq!(allowed_edits(6), 1);
        assert_eq!(allowed_edits(9), 2);
    }
}
