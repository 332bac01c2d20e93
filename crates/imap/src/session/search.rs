//! SEARCH (RFC 9051 §6.4.4) and SORT (RFC 5256) over a selected folder's view.

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use mail_parser::{Address, MessageParser};

use crate::proto::command::{Date, SearchKey, SequenceSet, SortCriterion, SortKey};
use crate::proto::render;
use confiance_mail::message::{encoded, mime};
use confiance_mail::model::MessageMeta;

/// One message as SEARCH sees it.
pub struct Candidate<'a> {
    pub seq: u32,
    pub meta: &'a MessageMeta,
    pub recent: bool,
    pub bytes: Option<&'a [u8]>,
}

/// Numbers SEARCH needs to resolve `*` and `$`.
pub struct Context<'a> {
    pub max_seq: u32,
    pub max_uid: u32,
    /// UIDs saved by SEARCH RETURN (SAVE) (RFC 5182).
    pub saved: &'a HashSet<u32>,
    pub now: i64,
}

/// Whether evaluating `key` needs the message's bytes (headers or body).
pub fn needs_bytes(key: &SearchKey) -> bool {
    use SearchKey::*;
    match key {
        Bcc(_) | Body(_) | Cc(_) | From(_) | Header(..) | Subject(_) | Text(_) | To(_) | SentBefore(_) | SentOn(_)
        | SentSince(_) => true,
        Not(k) => needs_bytes(k),
        Or(a, b) => needs_bytes(a) || needs_bytes(b),
        And(keys) => keys.iter().any(needs_bytes),
        _ => false,
    }
}

fn has_flag(meta: &MessageMeta, flag: &str) -> bool {
    meta.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

fn contains_ci(haystack: &str, needle: &[u8]) -> bool {
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    needle.is_empty() || haystack.to_lowercase().contains(&needle)
}

fn internal_day(meta: &MessageMeta) -> NaiveDate {
    let tz = FixedOffset::east_opt(meta.internal_tz_minutes * 60).unwrap_or(FixedOffset::east_opt(0).unwrap());
    tz.timestamp_opt(meta.internal_date, 0)
        .single()
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

fn naive(d: &Date) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year as i32, d.month as u32, d.day as u32).unwrap_or_default()
}

/// Date of the Date: header in its own zone (RFC 9051 §6.4.4 SENT*: time and zone disregarded).
fn sent_day(bytes: &[u8]) -> Option<NaiveDate> {
    sent_time(bytes).map(|d| d.date_naive())
}

pub fn sent_time(bytes: &[u8]) -> Option<DateTime<FixedOffset>> {
    let header = &bytes[..mime::header_end(bytes)];
    let value = mime::header_field(header, "date")?;
    let text = String::from_utf8_lossy(&value);
    DateTime::parse_from_rfc2822(text.trim()).ok().or_else(|| {
        // Obsolete zones and comments: retry on the first five words.
        let words: Vec<&str> = text.split_whitespace().take(6).collect();
        DateTime::parse_from_rfc2822(&words.join(" ")).ok()
    })
}

/// Header values for searching: raw (unfolded) and decoded (RFC 2047), joined.
fn header_text(bytes: &[u8], name: &str) -> Option<String> {
    let header = &bytes[..mime::header_end(bytes)];
    let raw: Vec<String> = mime::header_fields(header)
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| String::from_utf8_lossy(&mime::unfold(v)).into_owned())
        .collect();
    if raw.is_empty() {
        return None;
    }
    let mut text = raw.join("\n");
    if let Some(msg) = MessageParser::default().parse_headers(header) {
        let decoded = match name.to_ascii_lowercase().as_str() {
            "subject" => msg.subject().map(str::to_owned),
            "from" => msg.from().map(address_text),
            "to" => msg.to().map(address_text),
            "cc" => msg.cc().map(address_text),
            "bcc" => msg.bcc().map(address_text),
            _ => None,
        };
        if let Some(d) = decoded {
            text.push('\n');
            text.push_str(&d);
        }
    }
    Some(text)
}

fn address_text(a: &Address) -> String {
    a.iter()
        .map(|addr| {
            format!(
                "{} <{}>",
                addr.name.as_deref().unwrap_or(""),
                addr.address.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decoded text of every text part, for BODY and TEXT.
fn body_text(bytes: &[u8]) -> String {
    let mut out = String::new();
    if let Some(msg) = MessageParser::default().parse(bytes) {
        for i in 0..msg.text_body.len().max(msg.html_body.len()) {
            if let Some(t) = msg.body_text(i) {
                out.push_str(&t);
                out.push('\n');
            }
        }
        for part in msg.attachments() {
            if let Some(t) = part.text_contents() {
                out.push_str(t);
                out.push('\n');
            }
        }
    }
    let body = &bytes[mime::header_end(bytes)..];
    out.push_str(&String::from_utf8_lossy(body));
    out
}

pub fn matches(key: &SearchKey, c: &Candidate, ctx: &Context) -> bool {
    use SearchKey::*;
    let bytes = c.bytes.unwrap_or(&[]);
    match key {
        All => true,
        Answered => has_flag(c.meta, "\\Answered"),
        Deleted => has_flag(c.meta, "\\Deleted"),
        Draft => has_flag(c.meta, "\\Draft"),
        Flagged => has_flag(c.meta, "\\Flagged"),
        Seen => has_flag(c.meta, "\\Seen"),
        Unanswered => !has_flag(c.meta, "\\Answered"),
        Undeleted => !has_flag(c.meta, "\\Deleted"),
        Undraft => !has_flag(c.meta, "\\Draft"),
        Unflagged => !has_flag(c.meta, "\\Flagged"),
        Unseen => !has_flag(c.meta, "\\Seen"),
        Keyword(k) => has_flag(c.meta, k),
        Unkeyword(k) => !has_flag(c.meta, k),
        Recent => c.recent,
        New => c.recent && !has_flag(c.meta, "\\Seen"),
        Old => !c.recent,
        Larger(n) => c.meta.size > *n,
        Smaller(n) => c.meta.size < *n,
        Before(d) => internal_day(c.meta) < naive(d),
        On(d) => internal_day(c.meta) == naive(d),
        Since(d) => internal_day(c.meta) >= naive(d),
        Older(secs) => c.meta.internal_date <= ctx.now - *secs as i64,
        Younger(secs) => c.meta.internal_date >= ctx.now - *secs as i64,
        SentBefore(d) => sent_day(bytes).is_some_and(|s| s < naive(d)),
        SentOn(d) => sent_day(bytes).is_some_and(|s| s == naive(d)),
        SentSince(d) => sent_day(bytes).is_some_and(|s| s >= naive(d)),
        From(s) => header_text(bytes, "from").is_some_and(|h| contains_ci(&h, s)),
        To(s) => header_text(bytes, "to").is_some_and(|h| contains_ci(&h, s)),
        Cc(s) => header_text(bytes, "cc").is_some_and(|h| contains_ci(&h, s)),
        Bcc(s) => header_text(bytes, "bcc").is_some_and(|h| contains_ci(&h, s)),
        Subject(s) => header_text(bytes, "subject").is_some_and(|h| contains_ci(&h, s)),
        Header(name, value) => {
            header_text(bytes, &String::from_utf8_lossy(name)).is_some_and(|h| contains_ci(&h, value))
        }
        Body(s) => contains_ci(&body_text(bytes), s),
        Text(s) => {
            let header = &bytes[..mime::header_end(bytes)];
            contains_ci(&String::from_utf8_lossy(header), s) || contains_ci(&body_text(bytes), s)
        }
        Uid(set) => in_set(set, c.meta.uid, ctx.max_uid, ctx, true),
        SequenceSet(set) => {
            in_set(set, c.seq, ctx.max_seq, ctx, false)
                || matches!(set, self::SequenceSet::Saved if ctx.saved.contains(&c.meta.uid))
        }
        ModSeq { modseq, .. } => c.meta.modseq >= *modseq,
        Not(k) => !matches(k, c, ctx),
        Or(a, b) => matches(a, c, ctx) || matches(b, c, ctx),
        And(keys) => keys.iter().all(|k| matches(k, c, ctx)),
    }
}

fn in_set(set: &SequenceSet, n: u32, max: u32, ctx: &Context, is_uid: bool) -> bool {
    match set {
        SequenceSet::Saved => is_uid && ctx.saved.contains(&n),
        ranges => ranges.contains(n, max),
    }
}

/// Sort keys of one message (RFC 5256 §3).
pub struct SortValues {
    pub seq: u32,
    pub arrival: i64,
    pub date: i64,
    pub size: u64,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub display_from: String,
    pub display_to: String,
}

pub fn sort_values(seq: u32, meta: &MessageMeta, bytes: &[u8]) -> SortValues {
    let header = &bytes[..mime::header_end(bytes)];
    // RFC 5256 §3 and RFC 5957: the first address's mailbox (local part), or its display
    // name (else addr-spec); a group counts by its name.
    let first = |name: &str| -> (String, String) {
        let Some(value) = mime::header_field(header, name) else {
            return (String::new(), String::new());
        };
        let Some(a) = render::parse_addresses(&value).into_iter().next() else {
            return (String::new(), String::new());
        };
        let text = |b: &Option<Vec<u8>>| b.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
        let mailbox = text(&a.mailbox).unwrap_or_default();
        let display = match (text(&a.name), text(&a.host)) {
            (Some(n), _) if !n.trim().is_empty() => encoded::decode(&n),
            (_, Some(h)) => format!("{mailbox}@{h}"),
            _ => mailbox.clone(),
        };
        (mailbox.to_lowercase(), display.trim().to_lowercase())
    };
    let (from, display_from) = first("from");
    let (to, display_to) = first("to");
    let (cc, _) = first("cc");
    let subject = mime::header_field(header, "subject")
        .map(|s| base_subject(&encoded::decode(&String::from_utf8_lossy(&s))))
        .unwrap_or_default();
    SortValues {
        seq,
        arrival: meta.internal_date,
        // RFC 5256 §3: DATE falls back to the internal date when Date: is missing or invalid.
        date: sent_time(bytes).map(|d| d.timestamp()).unwrap_or(meta.internal_date),
        size: meta.size,
        subject,
        from,
        to,
        cc,
        display_from,
        display_to,
    }
}

pub fn compare(a: &SortValues, b: &SortValues, criteria: &[SortCriterion]) -> Ordering {
    for c in criteria {
        let o = match c.key {
            SortKey::Arrival => a.arrival.cmp(&b.arrival),
            SortKey::Date => a.date.cmp(&b.date),
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Subject => a.subject.cmp(&b.subject),
            SortKey::From => a.from.cmp(&b.from),
            SortKey::To => a.to.cmp(&b.to),
            SortKey::Cc => a.cc.cmp(&b.cc),
            SortKey::DisplayFrom => a.display_from.cmp(&b.display_from),
            SortKey::DisplayTo => a.display_to.cmp(&b.display_to),
        };
        let o = if c.reverse { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    // RFC 5256 §3: ties are broken by sequence number.
    a.seq.cmp(&b.seq)
}

/// RFC 5256 §2.1 base subject: without `Re:`, `Fwd:`, `[tags]`, `(fwd)` and extra spaces,
/// compared in upper case (i;ascii-casemap).
pub fn base_subject(subject: &str) -> String {
    let mut s: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        let before = s.clone();
        // Trailing "(fwd)".
        while s.to_ascii_lowercase().ends_with("(fwd)") {
            s.truncate(s.len() - 5);
            s = s.trim_end().to_string();
        }
        // Leading "re:", "fw:", "fwd:" with optional [blob], and leading [blob]s.
        loop {
            let lower = s.to_ascii_lowercase();
            let mut rest = lower.as_str();
            let mut stripped = false;
            for prefix in ["re", "fwd", "fw"] {
                if let Some(r) = rest.strip_prefix(prefix) {
                    let mut r = r.trim_start();
                    if let Some(end) = blob_end(r) {
                        r = r[end + 1..].trim_start();
                    }
                    if let Some(r) = r.strip_prefix(':') {
                        rest = r;
                        stripped = true;
                        break;
                    }
                }
            }
            if !stripped
                && let Some(end) = blob_end(rest)
                && !rest[end + 1..].trim().is_empty()
            {
                rest = &rest[end + 1..];
                stripped = true;
            }
            if !stripped {
                break;
            }
            s = s[s.len() - rest.len()..].trim_start().to_string();
        }
        // "[fwd: subject]" wrapper.
        if s.to_ascii_lowercase().starts_with("[fwd:") && s.ends_with(']') {
            s = s[5..s.len() - 1].trim().to_string();
        }
        if s == before {
            break;
        }
    }
    s.to_ascii_uppercase()
}

/// End of a leading `[blob]` (RFC 5256 §5: BLOBCHAR excludes `[` and `]`).
fn blob_end(s: &str) -> Option<usize> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(['[', ']'])?;
    (inner.as_bytes()[end] == b']').then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects() {
        assert_eq!(
            base_subject("Re: Fwd: [liste] Résultats (fwd)"),
            "RéSULTATS".to_ascii_uppercase()
        );
        assert_eq!(base_subject("re:   hello   world"), "HELLO WORLD");
        assert_eq!(base_subject("[Fwd: x]"), "X");
        assert_eq!(base_subject("[tag]"), "[TAG]");
        assert_eq!(base_subject("re: [fwd: [fwd: re: [fwd: babylon]]]"), "BABYLON");
        assert_eq!(base_subject("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)"), "B");
    }
}
