//! `confiance traces`: read the audit trail of a BAL or of the whole operator, and purge what is
//! past its retention (`[traces] retention`, six months by default: FAQ ANS 10217). The server
//! purges every hour by itself; the command is for an operator who wants it now.

use clap::{Args, Subcommand, ValueEnum};
use confiance_store::{Trace, TraceQuery};

use crate::config::Config;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TracesArgs {
    #[command(subcommand)]
    pub action: Option<TracesAction>,
    /// Seulement les traces de cette BAL.
    #[arg(long)]
    pub bal: Option<String>,
    /// À partir de ce jour (`2026-12-01`, heure locale) ou instant (RFC 3339) ; par défaut : il y a 24 heures.
    #[arg(long)]
    pub since: Option<String>,
    /// Jusqu'à ce jour (inclus) ou cet instant (exclu) ; par défaut : maintenant.
    #[arg(long)]
    pub until: Option<String>,
    /// Seulement ces événements (`login`, `sent`, `delivered`…) ; à répéter pour plusieurs.
    #[arg(long)]
    pub event: Vec<String>,
    /// Seulement les traces d'un message, par son Message-ID (avec ou sans `<>`) : son envoi, son
    /// relais, sa remise et les accusés reçus. Lit par défaut toute la durée de conservation.
    #[arg(long)]
    pub message: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Subcommand)]
pub enum TracesAction {
    /// Supprime maintenant les traces plus anciennes que `[traces] retention`.
    Purge,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// One line a trace, for people.
    Text,
    /// Semicolon-separated, with a header line.
    Csv,
    /// JSON Lines: one object a trace.
    Json,
}

/// Reads a retention: a number with `d` (days), `h` (hours) or `s` (seconds); `183d` is six months.
pub fn parse_retention(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let unit = t.chars().last().unwrap_or('?');
    let number: u64 = t[..t.len() - unit.len_utf8().min(t.len())]
        .trim()
        .parse()
        .map_err(|_| format!("durée illisible : « {text} » (écrire par exemple 183d, 12h ou 30s)"))?;
    let seconds = match unit {
        'd' | 'j' => number.saturating_mul(86_400),
        'h' => number.saturating_mul(3_600),
        's' => number,
        _ => return Err(format!("durée illisible : « {text} » (unités : d, h ou s)")),
    };
    match seconds {
        0 => Err("la durée de conservation des traces doit dépasser zéro".into()),
        s => Ok(s),
    }
}

/// A day (local midnight) or an RFC 3339 instant, in Unix milliseconds; a day given as `until`
/// means its end.
fn instant(text: &str, end_of_day: bool) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("date illisible : « {text} » (écrire 2026-12-01 ou 2026-12-01T08:00:00+01:00)"))?;
    let day = if end_of_day { day.succ_opt().unwrap_or(day) } else { day };
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .ok_or_else(|| anyhow::anyhow!("date hors du calendrier local : {text}"))?;
    Ok(midnight.timestamp_millis())
}

pub fn run(config: &Config, args: TracesArgs) -> anyhow::Result<()> {
    crate::accounts::open(config)?;
    let log = crate::audit::start(config)?;
    if let Some(TracesAction::Purge) = args.action {
        let before = chrono::Utc::now().timestamp_millis() - config.traces.retention_ms();
        let gone = log.purge(before)?;
        tracing::info!(target: "audit", event = "traces_purged", count = gone, retention = %config.traces.retention);
        match gone {
            0 => println!(
                "Aucune trace n'a dépassé la durée de conservation ({}).",
                config.traces.retention
            ),
            1 => println!(
                "1 trace supprimée : elle dépassait la durée de conservation ({}).",
                config.traces.retention
            ),
            n => println!(
                "{n} traces supprimées : elles dépassaient la durée de conservation ({}).",
                config.traces.retention
            ),
        }
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_millis();
    let since = match &args.since {
        Some(s) => instant(s, false)?,
        None if args.message.is_some() => 0,
        None => now - 86_400_000,
    };
    let until = match &args.until {
        Some(u) => instant(u, true)?,
        None => now + 1,
    };
    if until <= since {
        anyhow::bail!("--until doit venir après --since");
    }
    let bal = args.bal.map(|b| b.trim().to_lowercase());
    let events: Vec<&str> = args.event.iter().map(String::as_str).collect();
    let message = args
        .message
        .as_deref()
        .map(|m| format!("<{}>", m.trim().trim_matches(['<', '>'])));
    let query = TraceQuery {
        message_id: message.as_deref(),
        since_ms: since,
        until_ms: until,
        bal: bal.as_deref(),
        events: &events,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Format::Csv = args.format {
        use std::io::Write;
        writeln!(
            out,
            "horodatage;evenement;resultat;acteur;bal;pair;message_id;taille;detail"
        )?;
    }
    let mut failed = None;
    log.scan(&query, &mut |t| match print(&mut out, args.format, &t) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    std::io::Write::flush(&mut out)?;
    Ok(())
}

fn print(out: &mut impl std::io::Write, format: Format, t: &Trace) -> std::io::Result<()> {
    let at = chrono::DateTime::from_timestamp_millis(t.at_ms)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string()
        })
        .unwrap_or_default();
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let size = t.size.map(|s| s.to_string()).unwrap_or_default();
    let detail = t
        .detail
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    match format {
        Format::Text => {
            let mut line = format!("{at}  {}", t.event);
            for (name, value) in [
                ("resultat", &t.outcome),
                ("acteur", &t.actor),
                ("bal", &t.bal),
                ("pair", &t.peer),
                ("message_id", &t.message_id),
            ] {
                if let Some(v) = value {
                    line.push_str(&format!("  {name}={v}"));
                }
            }
            if !size.is_empty() {
                line.push_str(&format!("  taille={size}"));
            }
            if !detail.is_empty() {
                line.push_str(&format!("  {detail}"));
            }
            writeln!(out, "{line}")
        }
        Format::Csv => {
            let cells = [
                at,
                t.event.clone(),
                o(&t.outcome),
                o(&t.actor),
                o(&t.bal),
                o(&t.peer),
                o(&t.message_id),
                size,
                detail,
            ];
            let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            writeln!(out, "{}", cells.join(";"))
        }
        Format::Json => {
            let detail: serde_json::Map<String, serde_json::Value> =
                t.detail.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
            let at = chrono::DateTime::from_timestamp_millis(t.at_ms)
                .map(|d| {
                    d.with_timezone(&chrono::Local)
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
                })
                .unwrap_or_default();
            let value = serde_json::json!({
                "at": at, "at_ms": t.at_ms, "event": t.event, "outcome": t.outcome, "actor": t.actor,
                "bal": t.bal, "peer": t.peer, "message_id": t.message_id, "size": t.size, "detail": detail,
            });
            writeln!(out, "{value}")
        }
    }
}

/// A CSV cell, quoted when it holds the separator, a quote or a line break (RFC 4180).
pub fn csv_cell(value: &str) -> String {
    match value.contains([';', '"', '\n', '\r']) {
        true => format!("\"{}\"", value.replace('"', "\"\"")),
        false => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions_as_admins_write_them() {
        assert_eq!(parse_retention("183d"), Ok(183 * 86_400));
        assert_eq!(parse_retention("12h"), Ok(12 * 3_600));
        assert_eq!(parse_retention(" 30s "), Ok(30));
        assert_eq!(parse_retention("2j"), Ok(2 * 86_400));
        assert!(parse_retention("0d").is_err());
        assert!(parse_retention("six mois").is_err());
        assert!(parse_retention("").is_err());
        assert!(parse_retention("10").is_err());
    }

    #[test]
    fn a_day_runs_from_local_midnight_to_the_next() {
        let from = instant("2026-12-01", false).unwrap();
        let to = instant("2026-12-01", true).unwrap();
        assert_eq!(to - from, 86_400_000);
        assert_eq!(instant("2026-12-01T08:00:00Z", false).unwrap(), 1_796_112_000_000);
        assert!(instant("01/12/2026", false).is_err());
    }

    #[test]
    fn csv_cells_quote_what_would_break_a_row() {
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
