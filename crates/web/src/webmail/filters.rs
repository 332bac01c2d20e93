//! « Absence et filtres »: the out-of-office reply, forwarding inside the trust space and
//! rules that file messages into folders, written as the BAL's Sieve script `webmail` (RFC
//! 5228, vacation RFC 5230, copy RFC 3894) and activated. The form's values travel in the
//! script's first line, so that the page shows them again; a script written by a client over
//! ManageSieve (or changed by one) is named, and replaced only when the user saves here.

use axum::response::Response;
use serde::{Deserialize, Serialize};

use askama::Template;

use super::frame::{Frame, folder_name};
use super::{Ctx, PostedForm, logged};
use crate::account::see_other;
use crate::i18n::Tr;
use confiance_smtp::filtering::{NotForwardable, forwardable};

/// The script this page writes.
pub const SCRIPT: &str = "webmail";
/// The first line's mark, before the form's values in JSON.
const MARK: &str = "# Confiance webmail ";
const MAX_RULES: usize = 20;
const MAX_TEXT: usize = 200;
const MAX_MESSAGE: usize = 4000;

/// What a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    From,
    To,
    Subject,
}

impl Field {
    const ALL: [Field; 3] = [Field::From, Field::To, Field::Subject];

    fn name(self) -> &'static str {
        match self {
            Field::From => "from",
            Field::To => "to",
            Field::Subject => "subject",
        }
    }

    /// The header fields the rule reads: `To` covers the copies too.
    fn headers(self) -> &'static str {
        match self {
            Field::From => "\"from\"",
            Field::To => "[\"to\", \"cc\"]",
            Field::Subject => "\"subject\"",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Field::From => "filters.field-from",
            Field::To => "filters.field-to",
            Field::Subject => "filters.field-subject",
        }
    }
}

/// A rule: messages whose field contains the text go to the folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub field: Field,
    pub text: String,
    pub folder: String,
}

/// The form's values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub away: bool,
    pub subject: String,
    pub message: String,
    /// Days before the same correspondent is answered again (RFC 5230 §4.1).
    pub days: u32,
    pub forward: String,
    pub keep_copy: bool,
    pub rules: Vec<Rule>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            away: false,
            subject: String::new(),
            message: String::new(),
            days: 7,
            forward: String::new(),
            keep_copy: true,
            rules: Vec::new(),
        }
    }
}

/// A Sieve string (RFC 5228 §2.4.2): `\` and `"` escaped; line ends as CRLF.
fn quoted(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Settings {
    /// The script that does what the form says, its values on the first line.
    pub fn script(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut s = format!("{MARK}{json}\r\nrequire [\"fileinto\", \"copy\", \"vacation\"];\r\n");
        if self.away {
            let subject = match self.subject.trim() {
                "" => String::new(),
                subject => format!(" :subject {}", quoted(subject)),
            };
            s.push_str(&format!(
                "vacation :days {}{subject} {};\r\n",
                self.days.clamp(1, 30),
                quoted(&self.message)
            ));
        }
        if !self.forward.is_empty() {
            let copy = if self.keep_copy { ":copy " } else { "" };
            s.push_str(&format!("redirect {copy}{};\r\n", quoted(&self.forward)));
        }
        // Forwarded without a copy, a message is not kept: no rule to file it.
        if self.forward.is_empty() || self.keep_copy {
            for rule in &self.rules {
                s.push_str(&format!(
                    "if header :contains {} {} {{\r\n  fileinto {};\r\n  stop;\r\n}}\r\n",
                    rule.field.headers(),
                    quoted(&rule.text),
                    quoted(&rule.folder)
                ));
            }
        }
        s
    }

    /// The values of a script this page wrote and nobody changed since.
    pub fn of_script(script: &str) -> Option<Settings> {
        let first = script.lines().next()?.strip_prefix(MARK)?;
        let settings: Settings = serde_json::from_str(first).ok()?;
        (settings.script() == script).then_some(settings)
    }
}

/// Where the BAL's filters stand, for the page.
enum Current {
    /// Nothing active, or the page's own script.
    Ours(Settings),
    /// A script a client wrote (or changed): its name.
    Theirs(String),
}

async fn current(ctx: &Ctx) -> Option<Current> {
    let scripts = logged(ctx.mail.svc.sieve_scripts(ctx.account.id).await)?;
    let active = scripts.iter().find(|s| s.active);
    Some(match active {
        // Nothing runs (a client deactivated every script): nothing is shown on, but the texts
        // of the page's own script are kept to start from.
        None => Current::Ours(
            scripts
                .iter()
                .find(|s| s.name == SCRIPT)
                .and_then(|s| Settings::of_script(&s.content))
                .map(|kept| Settings {
                    subject: kept.subject,
                    message: kept.message,
                    days: kept.days,
                    ..Settings::default()
                })
                .unwrap_or_default(),
        ),
        Some(s) => match Settings::of_script(&s.content) {
            Some(settings) if s.name == SCRIPT => Current::Ours(settings),
            _ => Current::Theirs(s.name.clone()),
        },
    })
}

/// Whether the out-of-office reply this page set runs now (a client's own script is not read:
/// what it does depends on what it tests).
pub(crate) async fn away_on(ctx: &Ctx) -> bool {
    let active = ctx.mail.svc.active_sieve_script(ctx.account.id).await.ok().flatten();
    active
        .filter(|s| s.name == SCRIPT)
        .and_then(|s| Settings::of_script(&s.content))
        .is_some_and(|s| s.away)
}

#[derive(Template)]
#[template(path = "webmail/filters.html")]
struct FiltersPage {
    tr: Tr,
    frame: Frame,
    settings: Settings,
    /// The rules' rows: the saved ones, then empty ones to add more.
    rows: Vec<Rule>,
    fields: [Field; 3],
    /// Each folder's name, and as the user reads it.
    folders: Vec<(String, String)>,
    /// A client's script that saving here would replace.
    theirs: Option<String>,
    /// What is wrong with the form (a catalogue key), and which field.
    error: Option<(&'static str, &'static str)>,
    max_text: usize,
    max_message: usize,
    may_manage: bool,
}

/// The page's maker for `Ctx::show`, from the form's values.
fn page_of(
    ctx: &Ctx,
    settings: Settings,
    theirs: Option<String>,
    error: Option<(&'static str, &'static str)>,
) -> impl FnOnce(Tr, Frame, &[confiance_mail::model::FolderCount]) -> FiltersPage + use<> {
    let lang = ctx.lang();
    let folders: Vec<(String, String)> = ctx
        .folders
        .iter()
        .map(|f| (f.name.clone(), folder_name(lang, f)))
        .collect();
    let may_manage = ctx.may_manage;
    let mut rows = settings.rules.clone();
    let blank = Rule {
        field: Field::From,
        text: String::new(),
        folder: String::new(),
    };
    rows.extend(std::iter::repeat_n(blank, MAX_RULES.saturating_sub(rows.len()).min(2)));
    move |tr, frame, _| FiltersPage {
        tr,
        frame,
        settings,
        rows,
        fields: Field::ALL,
        folders,
        theirs,
        error,
        max_text: MAX_TEXT,
        max_message: MAX_MESSAGE,
        may_manage,
    }
}

pub async fn page(ctx: Ctx) -> Response {
    let Some(current) = current(&ctx).await else {
        return ctx.store_failed().await;
    };
    let (settings, theirs) = match current {
        Current::Ours(s) => (s, None),
        Current::Theirs(name) => (Settings::default(), Some(name)),
    };
    let make = page_of(&ctx, settings, theirs, None);
    ctx.show("webmail.filters", None, make).await
}

/// The form's values, bounded; rules without text are the empty rows.
fn read_form(form: &std::collections::HashMap<String, String>) -> Settings {
    let text = |name: &str, max: usize| -> String {
        form.get(name)
            .map(|v| v.replace("\r\n", "\n").trim().chars().take(max).collect())
            .unwrap_or_default()
    };
    // A field of one line (a subject, an address, a rule's text): whatever a crafted form
    // sends, no line break or control character reaches the script.
    let line = |name: &str, max: usize| -> String {
        text(name, max)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let rules = (0..MAX_RULES)
        .filter_map(|i| {
            let asked = form.get(&format!("champ-{i}")).map(String::as_str);
            let field = Field::ALL
                .into_iter()
                .find(|f| Some(f.name()) == asked)
                .unwrap_or(Field::From);
            let folder = line(&format!("dossier-{i}"), 1000);
            let text = line(&format!("texte-{i}"), MAX_TEXT);
            (!text.is_empty()).then_some(Rule { field, text, folder })
        })
        .collect();
    Settings {
        away: form.contains_key("absence"),
        subject: line("objet", MAX_TEXT),
        message: text("message", MAX_MESSAGE),
        days: form
            .get("jours")
            .and_then(|d| d.trim().parse().ok())
            .unwrap_or(7)
            .clamp(1, 30),
        forward: line("transfert", 320).to_lowercase(),
        keep_copy: form.contains_key("copie"),
        rules,
    }
}

pub async fn post(PostedForm { mut ctx, form }: PostedForm) -> Response {
    if !ctx.may_manage {
        let msg = Tr(ctx.lang()).text_of("filters.not-allowed");
        return ctx.fail(axum::http::StatusCode::FORBIDDEN, msg).await;
    }
    let settings = read_form(&form);
    let mut error = None;
    if settings.away && settings.message.is_empty() {
        error = Some(("filters.away-empty", "message"));
    }
    if error.is_none() && !settings.forward.is_empty() {
        let checked = forwardable(&ctx.mail.svc, &ctx.mail.smtp, &ctx.account.address, &settings.forward).await;
        error = checked.err().map(|why| {
            let key = match why {
                NotForwardable::Malformed => "filters.forward-malformed",
                NotForwardable::Patient => "filters.forward-patient",
                NotForwardable::OutsideTrustSpace => "filters.forward-outside",
                NotForwardable::NoSuchMailbox => "filters.forward-unknown",
                NotForwardable::Itself => "filters.forward-itself",
            };
            (key, "transfert")
        });
    }
    if error.is_none()
        && settings
            .rules
            .iter()
            .any(|r| ctx.folders.iter().all(|f| f.name != r.folder))
    {
        error = Some(("filters.rule-folder-missing", "regles"));
    }
    if error.is_some() {
        let make = page_of(&ctx, settings, None, error);
        return ctx.show("webmail.filters", None, make).await;
    }
    let svc = ctx.mail.svc.clone();
    let account = ctx.account.id;
    let saved = logged(svc.put_sieve_script(account, SCRIPT.into(), settings.script()).await);
    match saved {
        Some(Ok(())) => {}
        Some(Err(refused)) => {
            // The page writes only scripts that parse: a refusal is ours to fix, not the user's.
            tracing::error!(?refused, "the webmail wrote a script that does not parse");
            return ctx.store_failed().await;
        }
        None => return ctx.store_failed().await,
    }
    if logged(svc.activate_sieve_script(account, Some(SCRIPT.into())).await).is_none() {
        return ctx.store_failed().await;
    }
    tracing::info!(target: "audit", event = "filter_saved", bal = %ctx.account.address, actor = %ctx.actor(), via = "webmail",
        away = settings.away, forward = !settings.forward.is_empty(), rules = settings.rules.len());
    ctx.session.data.flash = Some(Tr(ctx.lang()).text_of("filters.saved").into());
    ctx.respond(see_other("/webmail/filtres")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            away: true,
            subject: "Absent \"cette\" semaine".into(),
            message: "Bonjour,\nje suis absent.\n. Urgences : 15\\".into(),
            days: 3,
            forward: "remplacant@medecin.confiance.test".into(),
            keep_copy: true,
            rules: vec![Rule {
                field: Field::To,
                text: "labo".into(),
                folder: "Résultats".into(),
            }],
        }
    }

    #[test]
    fn the_script_parses_and_gives_the_form_back() {
        let s = settings();
        let script = s.script();
        confiance_mail::filters::check(&script).expect("parses");
        assert_eq!(Settings::of_script(&script), Some(s.clone()));
        assert!(
            script.contains("vacation :days 3 :subject \"Absent \\\"cette\\\" semaine\""),
            "{script}"
        );
        assert!(script.contains("redirect :copy \"remplacant@medecin.confiance.test\";"));
        assert!(script.contains("if header :contains [\"to\", \"cc\"] \"labo\""));
        // Changed by a client: no longer the page's own.
        assert_eq!(Settings::of_script(&script.replace(":days 3", ":days 4")), None);
        assert_eq!(Settings::of_script("keep;"), None);
    }

    #[test]
    fn a_crafted_form_cannot_break_the_script() {
        let form: std::collections::HashMap<String, String> = [
            ("absence", "on"),
            ("objet", "Absent\r\n;discard;"),
            ("message", "Bonjour\r\n.\r\n"),
            ("jours", "999"),
            ("texte-0", "a\"b\r\nc"),
            ("dossier-0", "INBOX"),
            ("texte-25", "beyond the rows"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = read_form(&form);
        assert_eq!((s.subject.as_str(), s.days, s.rules.len()), ("Absent ;discard;", 30, 1));
        confiance_mail::filters::check(&s.script()).expect("parses");
    }

    #[test]
    fn forwarding_without_a_copy_files_nothing() {
        let s = Settings {
            keep_copy: false,
            ..settings()
        };
        let script = s.script();
        confiance_mail::filters::check(&script).expect("parses");
        assert!(script.contains("redirect \"remplacant"));
        assert!(!script.contains("fileinto \""));
        let off = Settings::default().script();
        confiance_mail::filters::check(&off).expect("parses");
        assert!(!off.contains("vacation ") && !off.contains("redirect "));
    }
}
