//! Sizes as administrators write and read them: `4G`, `2 Go`, `500M`, `1,5 Go`, or a number of
//! bytes. Multiples are of 1,024, as mail programs count a quota.

const UNITS: [(&str, &str); 4] = [("k", "Ko"), ("m", "Mo"), ("g", "Go"), ("t", "To")];

/// Reads a size (clap's value parser for quotas).
pub fn parse(text: &str) -> Result<u64, String> {
    let unreadable = || format!("taille illisible : « {text} » (écrire par exemple 500M, 2G ou 2 Go)");
    let t = text.trim().to_lowercase().replace(',', ".");
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let number: f64 = number.parse().map_err(|_| unreadable())?;
    // The unit's letter, then nothing or one of the ways of writing "bytes" after it.
    let mut letters = unit.chars();
    let shift = match letters.next() {
        None => 0,
        Some(c) => match UNITS.iter().position(|(u, _)| u.starts_with(c)) {
            Some(i) => 10 * (i as i32 + 1),
            None if matches!(unit, "o" | "b" | "octets" | "bytes") => 0,
            None => return Err(unreadable()),
        },
    };
    if shift > 0 && !matches!(letters.as_str(), "" | "o" | "b" | "io" | "ib") {
        return Err(unreadable());
    }
    let bytes = number * 2f64.powi(shift);
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 || (shift == 0 && number.fract() != 0.0) {
        return Err(unreadable());
    }
    Ok(bytes.round() as u64)
}

/// A size for people: « 812 octets », « 1,5 Mo », « 2 Go ».
pub fn show(bytes: u64) -> String {
    let mut unit = None;
    let mut value = bytes as f64;
    for (_, name) in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = Some(name);
    }
    match unit {
        None => format!("{bytes} octet{}", if bytes > 1 { "s" } else { "" }),
        Some(name) => {
            let shown = format!("{value:.1}").replace('.', ",");
            format!("{} {name}", shown.strip_suffix(",0").unwrap_or(&shown))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_people_write_them() {
        assert_eq!(parse("4G"), Ok(4 << 30));
        assert_eq!(parse("2 Go"), Ok(2 << 30));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("500M"), Ok(500 << 20));
        assert_eq!(parse("1,5 Go"), Ok(3 << 29));
        assert_eq!(parse("64 ko"), Ok(64 << 10));
        assert_eq!(parse("4294967296"), Ok(4294967296));
        assert_eq!(parse("1000 octets"), Ok(1000));
        for bad in ["", "G", "4X", "4 Gox", "-1G", "1.5", "deux Go", "4 GG"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("taille illisible"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_as_people_read_them() {
        assert_eq!(show(0), "0 octet");
        assert_eq!(show(812), "812 octets");
        assert_eq!(show(1536 << 10), "1,5 Mo");
        assert_eq!(show(2 << 30), "2 Go");
        assert_eq!(show(4294967296), "4 Go");
    }
}
