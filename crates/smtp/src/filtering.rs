//! What a recipient's filter (its BAL's active Sieve script, RFC 5228) does with a delivered
//! copy: the folders and flags it lands with (fileinto, imap4flags RFC 5232), the copies
//! forwarded inside the trust space (redirect), and the out-of-office reply (vacation RFC
//! 5230). A filter never loses mail: a folder that does not exist, a forwarding address outside
//! the trust space or a forward that cannot be queued leaves the copy in INBOX.

use std::sync::Arc;

use confiance_core::Address;
use confiance_mail::MailService;
use confiance_mail::filters::{Action, Vacation};
use confiance_mail::model::{AccountId, FolderId};
use confiance_mail::queue::{NewQueued, QueuedAddress};
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

use crate::SmtpConfig;
use crate::report::Local;

/// Flags a filter may set on one copy (RFC 5232 §3 leaves the count to the site).
const MAX_FLAGS: usize = 16;

/// Where one recipient's copy goes.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    /// Folders of the recipient's BAL, with the flags of each copy.
    pub folders: Vec<(FolderId, Vec<String>)>,
    /// BALs of this operator the copy is redirected to: their INBOX, the copy as it came.
    pub local_copies: Vec<(String, FolderId)>,
    /// Addresses at other operators the copy is forwarded to.
    pub forwards: Vec<String>,
    pub vacation: Option<Vacation>,
}

impl Placement {
    fn inbox(inbox: FolderId, flags: Vec<String>) -> Placement {
        Placement {
            folders: vec![(inbox, flags)],
            ..Placement::default()
        }
    }
}

/// Why an address cannot receive forwarded mail, in the words of the webmail and the traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotForwardable {
    /// Not an e-mail address.
    Malformed,
    /// Mon Espace Santé: a patient receives what a professional writes, never a forward.
    Patient,
    /// Not a domain of the trust space (reference spec §1.4: no gateway to ordinary e-mail).
    OutsideTrustSpace,
    /// A domain hosted here with no BAL of that name.
    NoSuchMailbox,
    /// The BAL itself.
    Itself,
}

/// Whether mail of the BAL `owner` may be forwarded to `address`: the one check of the
/// webmail's form and of delivery, so that what is saved is what runs. `Ok` carries the
/// target's INBOX when it is a BAL of this operator.
pub async fn forwardable(
    svc: &MailService,
    cfg: &SmtpConfig,
    owner: &str,
    address: &str,
) -> Result<Option<FolderId>, NotForwardable> {
    let parsed = Address::parse(address.trim()).map_err(|_| NotForwardable::Malformed)?;
    let address = parsed.to_string();
    if address.eq_ignore_ascii_case(owner) {
        return Err(NotForwardable::Itself);
    }
    if cfg.patients.is_patient(&address) {
        return Err(NotForwardable::Patient);
    }
    if !cfg.hosts(parsed.domain()) {
        return match cfg.whitelist.current().contains(parsed.domain()) {
            true => Ok(None),
            false => Err(NotForwardable::OutsideTrustSpace),
        };
    }
    match svc.recipient(address, None).await {
        Ok(Some((inbox, account))) if account.status == confiance_mail::model::AccountStatus::Active => {
            Ok(Some(inbox.id))
        }
        _ => Err(NotForwardable::NoSuchMailbox),
    }
}

/// The BAL whose filter runs: its id and the address the copy was for.
#[derive(Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub account: AccountId,
    pub address: &'a str,
}

/// Runs the BAL's filter on its copy. Without an active script, the copy goes to `inbox`.
pub(crate) async fn place(
    svc: &MailService,
    cfg: &SmtpConfig,
    Owner { account, address }: Owner<'_>,
    inbox: FolderId,
    sender: &str,
    message: &Arc<Vec<u8>>,
) -> Placement {
    let actions = match svc
        .sieve_actions(account, sender.to_string(), address.to_string(), message.clone())
        .await
    {
        Ok(Some(actions)) => actions,
        Ok(None) => return Placement::inbox(inbox, Vec::new()),
        Err(e) => {
            tracing::error!(error = %e, bal = %address, "filter not read: message kept in INBOX");
            return Placement::inbox(inbox, Vec::new());
        }
    };
    // A message a machine sent (a report, an automatic reply, another filter's forward) is not
    // forwarded again: two BALs forwarding to each other, here or at two operators, would pass
    // it back and forth for ever, each forward being a new message (RFC 3834 §2).
    let automatic = actions.iter().any(|a| matches!(a, Action::Redirect { .. })) && automatic(message);
    let mut placement = Placement::default();
    for action in actions {
        match action {
            Action::Keep { flags } => placement.folders.push((inbox, imap_flags(flags))),
            Action::FileInto { folder, flags, .. } => {
                let target = match svc.folder(account, folder.clone()).await {
                    Ok(Some(f)) => f.id,
                    _ => {
                        // RFC 5228 §4.1: filing into a folder that is not there keeps the copy.
                        tracing::info!(target: "audit", event = "filter_kept", bal = %address, reason = "no such folder");
                        inbox
                    }
                };
                placement.folders.push((target, imap_flags(flags)));
            }
            Action::Discard => {}
            Action::Redirect { .. } if automatic => {
                tracing::info!(target: "audit", event = "filter_kept", bal = %address, reason = "automatic message not forwarded");
                placement.folders.push((inbox, Vec::new()));
            }
            Action::Redirect { address: to, .. } => match forwardable(svc, cfg, address, &to).await {
                Ok(Some(target)) => placement.local_copies.push((to, target)),
                Ok(None) => placement.forwards.push(to),
                Err(why) => {
                    tracing::info!(target: "audit", event = "filter_kept", bal = %address, reason = ?why);
                    placement.folders.push((inbox, Vec::new()));
                }
            },
            Action::Vacation(v) => placement.vacation = Some(v),
        }
    }
    // Two actions filing into the same folder store one copy (RFC 5228 §2.10.3).
    let mut seen = Vec::new();
    placement.folders.retain(|(f, _)| match seen.contains(f) {
        true => false,
        false => {
            seen.push(*f);
            true
        }
    });
    placement
}

/// Whether `Auto-Submitted:` says a machine sent the message (RFC 3834 §5: anything but `no`).
fn automatic(message: &[u8]) -> bool {
    use confiance_mail::message::mime;
    let header = &message[..mime::header_end(message)];
    mime::header_field(header, "Auto-Submitted").is_some_and(|v| {
        let v = String::from_utf8_lossy(&mime::unfold(&v)).to_ascii_lowercase();
        !v.trim_start().starts_with("no")
    })
}

/// Text from a received message put in a header field of ours (a subject): one line without
/// control characters (a decoded RFC 2047 word may carry CR LF), and not too long.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// A Message-ID taken from a received message, if it is one we may repeat in ours.
fn message_id_of(original: &mail_parser::Message) -> Option<String> {
    original
        .message_id()
        .filter(|id| id.len() <= 250 && id.chars().all(|c| c.is_ascii_graphic() && c != '<' && c != '>'))
        .map(str::to_string)
}

/// The flags an IMAP folder takes (RFC 9051 §2.3.2): the system flags by their spelling, and
/// keywords that are atoms; anything else is dropped rather than stored.
fn imap_flags(flags: Vec<String>) -> Vec<String> {
    const SYSTEM: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];
    let mut out: Vec<String> = Vec::new();
    for flag in flags {
        let flag = match SYSTEM.iter().find(|s| s.eq_ignore_ascii_case(&flag)) {
            Some(system) => system.to_string(),
            None if flag.len() <= 64
                && !flag.is_empty()
                && flag
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b)) =>
            {
                flag
            }
            None => continue,
        };
        if out.len() < MAX_FLAGS && !out.iter().any(|f| f.eq_ignore_ascii_case(&flag)) {
            out.push(flag);
        }
    }
    out
}

/// Forwards the copy to another operator. A forward leaves as a new message of the BAL, with
/// the original attached: the receiving operator takes from us only what is signed by one of
/// our domains (Réf. #1: the From: domain belongs to the operator that hands the message over).
/// False when it could not be queued (the caller keeps the copy).
pub(crate) async fn forward(cfg: &SmtpConfig, owner: &str, to: &[String], message: &[u8], id: &str) -> bool {
    let parsed = mail_parser::MessageParser::default().parse(message);
    let subject = one_line(parsed.as_ref().and_then(|m| m.subject()).unwrap_or_default());
    let text = format!(
        "Message transféré automatiquement par {owner} (filtre de la messagerie).\r\n\
         Message forwarded automatically by {owner} (mail filter).\r\n"
    );
    let body = MimePart::new(
        "multipart/mixed",
        vec![
            MimePart::new("text/plain", text),
            MimePart::new("message/rfc822", without_trace(message).to_vec()),
        ],
    );
    let built = MessageBuilder::new()
        .message_id(crate::new_message_id(owner))
        .date(mail_builder::headers::date::Date::now())
        .from(owner)
        .to(to.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(format!("TR : {subject}"))
        .header("Auto-Submitted", Raw::new("auto-forwarded"))
        .body(body)
        .write_to_vec();
    let Ok(built) = built else { return false };
    // Two recipients of one message may forward it: the id must differ between them.
    let fid = format!("{id}F{:016x}", rand::random::<u64>());
    let queued = enqueue(cfg, &fid, owner, to, built).await;
    match queued {
        true => {
            tracing::info!(target: "audit", event = "forwarded", id, forward = %fid, bal = %owner, recipients = to.len())
        }
        false => tracing::error!(id, bal = %owner, "forward not queued: message kept in INBOX"),
    }
    queued
}

/// The out-of-office reply to the sender of `message`, if RFC 5230 and RFC 3834 allow one and
/// none went to this sender in the period. It leaves from the BAL's address rather than the
/// null sender: the trust space's MX take the null sender for reports only (see `policy`), and
/// `Auto-Submitted: auto-replied` keeps two responders from answering each other.
pub(crate) async fn vacation(
    svc: &MailService,
    cfg: &SmtpConfig,
    Owner {
        account,
        address: owner,
    }: Owner<'_>,
    sender: &str,
    vacation: &Vacation,
    message: &[u8],
    id: &str,
) {
    let Some(original) = mail_parser::MessageParser::default().parse(message) else {
        return;
    };
    if let Err(reason) = answerable(owner, sender, vacation, &original) {
        tracing::debug!(id, bal = %owner, reason, "no out-of-office reply");
        return;
    }
    match svc
        .claim_vacation_reply(account, sender.to_string(), vacation.handle.clone(), vacation.days)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(error = %e, bal = %owner, "out-of-office reply not recorded: none sent");
            return;
        }
    }
    let subject = match &vacation.subject {
        // Checked when the script was stored: one line.
        Some(s) => s.clone(),
        // RFC 5230 §4.2: the default subject says it answers the message.
        None => format!(
            "Réponse automatique : {}",
            one_line(original.subject().unwrap_or_default())
        ),
    };
    let mut reply = MessageBuilder::new()
        .message_id(crate::new_message_id(owner))
        .date(mail_builder::headers::date::Date::now())
        .from(owner)
        .to(sender)
        .subject(subject)
        .header("Auto-Submitted", Raw::new("auto-replied"));
    if let Some(parent) = message_id_of(&original) {
        reply = reply.in_reply_to(parent.clone()).references(parent);
    }
    // `:mime` (RFC 5230 §4.4): the reason is a MIME entity; its text part is what is sent.
    let reason = match vacation.mime {
        true => mail_parser::MessageParser::default()
            .parse(vacation.reason.as_bytes())
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .unwrap_or_default(),
        false => vacation.reason.clone(),
    };
    reply = reply.text_body(reason.replace("\r\n", "\n").replace('\n', "\r\n"));
    let Ok(bytes) = reply.write_to_vec() else { return };
    let rid = format!("{id}V{:016x}", rand::random::<u64>());
    let to = sender.to_lowercase();
    let domain = to.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let sent = match cfg.hosts(domain) {
        true => matches!(
            crate::report::deliver_local(svc, &to, owner, &bytes).await,
            Local::Stored(_)
        ),
        false => enqueue(cfg, &rid, owner, std::slice::from_ref(&to), bytes).await,
    };
    match sent {
        true => tracing::info!(target: "audit", event = "vacation_sent", id, reply = %rid, bal = %owner),
        false => {
            tracing::warn!(target: "audit", event = "vacation_failed", id, bal = %owner);
            // The next message from this correspondent tries again.
            if let Err(e) = svc.release_vacation_reply(account, to, vacation.handle.clone()).await {
                tracing::error!(error = %e, bal = %owner, "out-of-office claim not released");
            }
        }
    }
}

/// Whether an automatic reply may go (RFC 5230 §4.5 and §4.6, RFC 3834 §2): never to the null
/// sender, to a robot, to a list or to oneself, and only to a message addressed to the BAL.
fn answerable(
    owner: &str,
    sender: &str,
    vacation: &Vacation,
    original: &mail_parser::Message,
) -> Result<(), &'static str> {
    if sender.is_empty() {
        return Err("null sender");
    }
    let sender = sender.to_lowercase();
    let local = sender.split('@').next().unwrap_or_default();
    if sender == owner.to_lowercase() {
        return Err("own message");
    }
    if local.starts_with("owner-")
        || local.ends_with("-request")
        || [
            "mailer-daemon",
            "postmaster",
            "listserv",
            "majordomo",
            "noreply",
            "no-reply",
        ]
        .contains(&local)
    {
        return Err("robot sender");
    }
    let text = |name: &str| original.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if text("Auto-Submitted").is_some_and(|v| !v.starts_with("no")) {
        return Err("automatic message");
    }
    if text("Precedence").is_some_and(|v| ["bulk", "list", "junk"].contains(&v.as_str())) {
        return Err("bulk message");
    }
    if ["List-Id", "List-Post", "List-Unsubscribe", "List-Help"]
        .iter()
        .any(|h| text(h).is_some())
    {
        return Err("list message");
    }
    let mut mine: Vec<String> = vacation.addresses.iter().map(|a| a.to_lowercase()).collect();
    mine.push(owner.to_lowercase());
    let addressed = ["To", "Cc", "Bcc", "Resent-To", "Resent-Cc"].iter().any(|field| {
        original
            .header(*field)
            .and_then(|h| h.as_address())
            .is_some_and(|list| {
                list.iter()
                    .any(|a| a.address().is_some_and(|x| mine.contains(&x.to_lowercase())))
            })
    });
    match addressed {
        true => Ok(()),
        false => Err("not addressed to the BAL"),
    }
}

/// Queues a message of the BAL `sender` for addresses at other operators.
async fn enqueue(cfg: &SmtpConfig, id: &str, sender: &str, to: &[String], body: Vec<u8>) -> bool {
    let queue = cfg.outbound.queue.clone();
    let (id, sender) = (id.to_string(), sender.to_string());
    let recipients: Vec<QueuedAddress> = to
        .iter()
        .map(|a| QueuedAddress {
            address: a.clone(),
            orcpt: None,
            notify: Some("FAILURE".into()),
        })
        .collect();
    let queued = tokio::task::spawn_blocking(move || {
        queue.enqueue(&[NewQueued {
            id: &id,
            sender: &sender,
            envid: None,
            ret_full: false,
            body: &body,
            recipients,
        }])
    })
    .await;
    let ok = matches!(queued, Ok(Ok(())));
    if ok {
        cfg.outbound.wake.notify_one();
    }
    ok
}

/// The copy without our Return-Path: field, which the receiving side writes anew.
fn without_trace(message: &[u8]) -> &[u8] {
    match message.strip_prefix(b"Return-Path:".as_slice()) {
        Some(rest) => rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(message, |nl| &rest[nl + 1..]),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vacation() -> Vacation {
        Vacation {
            days: 7,
            subject: None,
            from: None,
            addresses: vec!["cabinet@medecin.test".into()],
            mime: false,
            handle: "h".into(),
            reason: "Absent".into(),
        }
    }

    fn check(headers: &str, sender: &str) -> Result<(), &'static str> {
        let bytes = format!("{headers}\r\n\r\nbody");
        let m = mail_parser::MessageParser::default().parse(bytes.as_bytes()).unwrap();
        answerable("jean@medecin.test", sender, &vacation(), &m)
    }

    #[test]
    fn out_of_office_answers_people_only() {
        let to_me = "From: a@b.test\r\nTo: Jean <jean@medecin.test>";
        assert_eq!(check(to_me, "a@b.test"), Ok(()));
        assert_eq!(
            check("From: a@b.test\r\nCc: cabinet@medecin.test", "a@b.test"),
            Ok(()),
            ":addresses"
        );
        assert_eq!(check(to_me, ""), Err("null sender"));
        assert_eq!(check(to_me, "jean@medecin.test"), Err("own message"));
        assert_eq!(check(to_me, "MAILER-DAEMON@b.test"), Err("robot sender"));
        assert_eq!(check(to_me, "list-request@b.test"), Err("robot sender"));
        assert_eq!(
            check(&format!("{to_me}\r\nAuto-Submitted: auto-replied"), "a@b.test"),
            Err("automatic message")
        );
        assert_eq!(check(&format!("{to_me}\r\nAuto-Submitted: no"), "a@b.test"), Ok(()));
        assert_eq!(
            check(&format!("{to_me}\r\nPrecedence: bulk"), "a@b.test"),
            Err("bulk message")
        );
        assert_eq!(
            check(&format!("{to_me}\r\nList-Id: <x.b.test>"), "a@b.test"),
            Err("list message")
        );
        assert_eq!(
            check("From: a@b.test\r\nTo: autre@medecin.test", "a@b.test"),
            Err("not addressed to the BAL")
        );
    }

    #[test]
    fn flags_a_folder_can_take() {
        let got = imap_flags(vec![
            "\\seen".into(),
            "$Important".into(),
            "\\Seen".into(),
            "bad flag".into(),
            "\\Unknown".into(),
            "a(b".into(),
        ]);
        assert_eq!(got, ["\\Seen", "$Important"]);
        assert_eq!(imap_flags((0..40).map(|i| format!("k{i}")).collect()).len(), MAX_FLAGS);
    }

    #[test]
    fn text_from_a_message_cannot_add_header_fields() {
        assert_eq!(one_line("Bilan\r\nBcc: x@y\r\n\r\nbody"), "Bilan  Bcc: x@y    body");
        assert_eq!(one_line(&"é".repeat(500)).chars().count(), 200);
        let m = mail_parser::MessageParser::default()
            .parse(b"Message-ID: <a b@c>\r\n\r\nx".as_slice())
            .unwrap();
        assert_eq!(message_id_of(&m), None);
        let m = mail_parser::MessageParser::default()
            .parse(b"Message-ID: <ab@c>\r\n\r\nx".as_slice())
            .unwrap();
        assert_eq!(message_id_of(&m).as_deref(), Some("ab@c"));
    }

    #[test]
    fn machines_are_known_by_auto_submitted() {
        assert!(automatic(b"Auto-Submitted: auto-forwarded\r\n\r\nx"));
        assert!(automatic(b"Subject: a\r\nauto-submitted:\r\n auto-replied\r\n\r\nx"));
        assert!(!automatic(b"Auto-Submitted: no\r\n\r\nx"));
        assert!(!automatic(b"Subject: a\r\n\r\nAuto-Submitted: auto-replied"));
    }

    #[test]
    fn our_return_path_is_not_forwarded() {
        assert_eq!(
            without_trace(b"Return-Path: <a@b>\r\nFrom: x\r\n\r\nb"),
            b"From: x\r\n\r\nb"
        );
        assert_eq!(without_trace(b"From: x\r\n\r\nb"), b"From: x\r\n\r\nb");
    }
}
